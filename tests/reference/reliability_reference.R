# Reference values for mut_eval.stats.reliability.
#
# Run from the repository root:   Rscript tests/reference/reliability_reference.R
# Writes (all under tests/reference/):
#   reliability_items_<name>.csv   deterministic Likert item datasets (1-5, with NA)
#   reliability_results.csv        per dataset: n, n_items, alpha, Feldt CI, omega
#
# alpha and its CI: psych::alpha on the complete rows (listwise), CI = psych's
#   `feldt` element (psych::alpha.ci; Feldt 1965, F distribution).
# omega: one-factor maximum-likelihood factor analysis with stats::factanal (on the
#   correlation matrix, i.e. standardised loadings), omega = (sum l)^2 /
#   ((sum l)^2 + sum psi). factanal's optimiser is run with a tight tolerance so the
#   stored values are accurate to ~1e-9. psych::fa(fm = "ml") and
#   psych::omega(nfactors = 1) are stored for information only (different
#   optimisers / extraction).
suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})

out_dir <- "tests/reference"

write_full <- function(df, path) {
  for (nm in names(df)) {
    if (is.numeric(df[[nm]])) {
      df[[nm]] <- ifelse(is.na(df[[nm]]), NA, sprintf("%.17g", df[[nm]]))
    }
  }
  write.csv(df, path, row.names = FALSE, quote = FALSE, na = "")
}

# Items from a one-factor model with unequal loadings, cut into 1..5 categories.
make_items <- function(n, loadings, seed, na_frac, prefix) {
  set.seed(seed)
  f <- rnorm(n)
  k <- length(loadings)
  x <- sapply(seq_len(k), function(j) {
    latent <- loadings[j] * f + sqrt(1 - loadings[j]^2) * rnorm(n)
    as.integer(cut(latent, breaks = c(-Inf, -1.2, -0.4, 0.4, 1.2, Inf)))
  })
  colnames(x) <- sprintf("%s%02d", prefix, seq_len(k))
  if (na_frac > 0) {
    x[sample(length(x), round(na_frac * length(x)))] <- NA
  }
  as.data.frame(x)
}

sets <- list(
  se9 = make_items(240, c(.75, .7, .65, .6, .7, .55, .5, .72, .6), 11, 0.02, "SE"),
  im4 = make_items(150, c(.8, .7, .6, .75), 22, 0.03, "IM"),
  ha3 = make_items(90, c(.6, .5, .7), 33, 0.0, "HA"),
  hw5 = make_items(120, c(.8, .6, .5, .55, .4), 44, 0.0, "HW")
)
# Heywood case: HW02 is a copy of HW01 except in two rows, so the ML uniquenesses of
# both want to go below factanal's lower bound 0.005 and stop there.
sets$hw5$HW02 <- sets$hw5$HW01
sets$hw5$HW02[c(3, 50)] <- pmin(5L, sets$hw5$HW02[c(3, 50)] + 1L)

rows <- list()
for (nm in names(sets)) {
  x <- sets[[nm]]
  write.csv(x, file.path(out_dir, sprintf("reliability_items_%s.csv", nm)),
            row.names = FALSE, na = "")
  cc <- na.omit(x)
  a <- suppressWarnings(suppressMessages(psych::alpha(cc, check.keys = FALSE)))
  # factr = 10 (default 1e7): L-BFGS-B stops at a relative change of ~2e-15, so the
  # uniquenesses are converged to ~1e-11 (the default stops ~1e-6 short). With three
  # items the one-factor model is just identified (perfect fit, objective 0) and the
  # tight run fails; there the ML solution is the closed form
  # lambda_i^2 = r_ij r_ik / r_jk, which is used as the reference instead.
  fa_ml <- NULL
  for (fr in c(10, 1e3)) {
    fa_ml <- tryCatch(factanal(covmat = cor(cc), factors = 1, n.obs = nrow(cc),
                               control = list(opt = list(factr = fr, maxit = 10000))),
                      error = function(e) NULL)
    if (!is.null(fa_ml)) break
  }
  if (ncol(cc) == 3) {
    r <- cor(cc)
    lam <- sqrt(c(r[1, 2] * r[1, 3] / r[2, 3], r[1, 2] * r[2, 3] / r[1, 3],
                  r[1, 3] * r[2, 3] / r[1, 2]))
    psi <- 1 - lam^2
  } else {
    lam <- as.vector(fa_ml$loadings)
    psi <- as.vector(fa_ml$uniquenesses)
  }
  lam <- lam * sign(sum(lam))
  omega_fa <- sum(lam)^2 / (sum(lam)^2 + sum(psi))
  pfa <- suppressWarnings(suppressMessages(psych::fa(cc, nfactors = 1, fm = "ml")))
  lp <- as.vector(pfa$loadings)
  omega_psych_fa_ml <- sum(lp)^2 / (sum(lp)^2 + sum(pfa$uniquenesses))
  om <- tryCatch(suppressWarnings(suppressMessages(
    psych::omega(cc, nfactors = 1, plot = FALSE)))$omega.tot, error = function(e) NA)
  rows[[length(rows) + 1]] <- data.frame(
    dataset = nm, n = nrow(cc), n_items = ncol(cc),
    alpha = a$total$raw_alpha, alpha_ci_low = unname(a$feldt$lower.ci),
    alpha_ci_high = unname(a$feldt$upper.ci), omega = omega_fa,
    omega_psych_fa_ml = omega_psych_fa_ml, omega_psych_minres = om,
    std_alpha = a$total$std.alpha, min_uniqueness = min(psi),
    uniquenesses = paste(sprintf("%.12f", psi), collapse = ";"),
    loadings = paste(sprintf("%.12f", lam), collapse = ";"))
}
write_full(do.call(rbind, rows), file.path(out_dir, "reliability_results.csv"))
writeLines(toJSON(list(R = R.version.string,
                       psych = as.character(packageVersion("psych"))), auto_unbox = TRUE),
           file.path(out_dir, "reliability_versions.json"))
cat("done\n")
