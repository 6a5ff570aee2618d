# Reference values for mut_eval.stats.anova (mixed_anova, interaction_contrasts).
#
# Run from the repository root:   Rscript tests/reference/anova_reference.R
# Writes (all under tests/reference/):
#   anova_data_<name>.csv            the deterministic test datasets (long format)
#   anova_pingouin_mixed.csv         pingouin's bundled 'mixed_anova' dataset (copied in
#                                    by hand from pingouin.read_dataset; read here, not written)
#   anova_afex_results.csv           afex::aov_ez(type = 3) results per dataset and effect
#   anova_contrasts_results.csv      pairwise condition x wave interaction contrasts
#
# Tested with R 4.x, afex 1.2-1, car 3.1-1. Tests only read the CSV outputs; R is not
# needed to run them.
suppressPackageStartupMessages({
  library(afex)
  library(jsonlite)
})

out_dir <- "tests/reference"

# Full double precision in the CSV outputs.
write_full <- function(df, path) {
  for (nm in names(df)) {
    if (is.numeric(df[[nm]])) {
      df[[nm]] <- ifelse(is.na(df[[nm]]), NA, sprintf("%.17g", df[[nm]]))
    }
  }
  write.csv(df, path, row.names = FALSE, quote = FALSE, na = "")
}

# ---------------------------------------------------------------------------
# Deterministic datasets. Each subject has a correlated (non-spherical) within vector.
# ---------------------------------------------------------------------------
make_data <- function(n_per_group, groups, waves, group_shift, time_means, Sigma, seed,
                      drop_frac = 0) {
  set.seed(seed)
  R <- chol(Sigma)
  rows <- list()
  id <- 0
  for (gi in seq_along(groups)) {
    for (i in seq_len(n_per_group[gi])) {
      id <- id + 1
      y <- as.vector(rnorm(length(waves)) %*% R) + time_means + group_shift[[gi]]
      rows[[length(rows) + 1]] <- data.frame(
        student_id = sprintf("S%03d", id), condition = groups[gi], wave = waves,
        score = round(y, 6), stringsAsFactors = FALSE)
    }
  }
  d <- do.call(rbind, rows)
  if (drop_frac > 0) {
    # Remove single (subject, wave) rows so that listwise deletion matters.
    drop <- sample(nrow(d), size = round(drop_frac * nrow(d)))
    d <- d[-drop, ]
  }
  rownames(d) <- NULL
  d
}

ar_sigma <- function(k, rho, sds) {
  S <- outer(seq_len(k), seq_len(k), function(i, j) rho^abs(i - j))
  diag(sds) %*% S %*% diag(sds)
}

datasets <- list()
# Balanced 2 x 3 (25 + 25), AR(1)-like covariance with unequal variances.
datasets$balanced <- make_data(c(25, 25), c("mentee", "control"), c("T1", "T2", "T3"),
  list(c(0, 0.3, 0.5), c(0, -0.1, -0.3)), c(3.5, 3.4, 3.2),
  ar_sigma(3, 0.6, c(0.6, 0.8, 1.0)), seed = 101)
# Unbalanced 2 x 3 (30 mentees vs 20 controls): Type II and Type III differ for 'wave'.
datasets$unbalanced <- make_data(c(30, 20), c("mentee", "control"), c("T1", "T2", "T3"),
  list(c(0, 0.1, 0.3), c(0.2, -0.2, -0.5)), c(3.5, 3.3, 3.4),
  ar_sigma(3, 0.5, c(0.7, 0.7, 1.1)), seed = 202)
# Unequal groups and about 8% of the (subject, wave) rows missing: afex drops the
# subjects without all three waves (listwise deletion).
datasets$missing <- make_data(c(45, 28), c("mentee", "control"), c("T1", "T2", "T3"),
  list(c(0, 0.2, 0.1), c(0.3, 0.0, -0.4)), c(3.0, 3.2, 3.1),
  ar_sigma(3, 0.4, c(0.5, 0.9, 0.8)), seed = 303, drop_frac = 0.08)
# Three groups x four waves, unequal sizes: g > 2 and k > 3 (the Mauchly p-value then
# uses the second-order term of the chi-square approximation).
datasets$g3k4 <- make_data(c(18, 24, 15), c("mentee", "control", "waitlist"),
  c("T1", "T2", "T3", "T4"),
  list(c(0, 0.2, 0.4, 0.3), c(0, 0, -0.2, -0.3), c(0.1, 0.3, 0.1, 0.0)),
  c(3.0, 3.1, 3.3, 3.2), ar_sigma(4, 0.7, c(0.6, 0.7, 0.9, 1.2)), seed = 404)
# Two waves only: epsilon is 1 and there is no Mauchly test.
datasets$k2 <- make_data(c(22, 17), c("mentee", "control"), c("T1", "T2"),
  list(c(0, 0.4), c(0, 0.1)), c(3.2, 3.1), ar_sigma(2, 0.5, c(0.8, 0.9)), seed = 505)
# Compound symmetry (spherical): the Huynh-Feldt epsilon exceeds 1 and is capped at 1
# for its p-value.
cs <- matrix(0.5, 3, 3); diag(cs) <- 1
datasets$spherical <- make_data(c(20, 26), c("mentee", "control"), c("T1", "T2", "T3"),
  list(c(0, 0.1, 0.2), c(0, 0, 0)), c(3, 3, 3), cs, seed = 606)

for (nm in names(datasets)) {
  write.csv(datasets[[nm]], file.path(out_dir, sprintf("anova_data_%s.csv", nm)),
            row.names = FALSE)
}

# pingouin's documented example dataset, copied from pingouin.read_dataset("mixed_anova").
pg <- read.csv(file.path(out_dir, "anova_pingouin_mixed.csv"), stringsAsFactors = FALSE)
names(pg) <- c("score", "wave", "condition", "student_id")
datasets$pingouin <- pg

# ---------------------------------------------------------------------------
# afex Type III mixed ANOVA
# ---------------------------------------------------------------------------
afex_rows <- list()
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  a <- suppressWarnings(suppressMessages(
    aov_ez(id = "student_id", dv = "score", data = d, between = "condition",
           within = "wave", type = 3)))
  s <- summary(a$Anova, multivariate = FALSE)
  uni <- unclass(s$univariate.tests)
  es <- anova(a, es = c("pes", "ges"), correction = "none")
  n_subj <- length(unique(a$data$long$student_id))
  for (src in c("condition", "wave", "condition:wave")) {
    # With two within levels car leaves pval.adjustments unfilled (zeros): no
    # sphericity test, no correction.
    has_corr <- src != "condition" && nrow(s$sphericity.tests) > 0 &&
      src %in% rownames(s$pval.adjustments)
    has_mauchly <- src != "condition" && nrow(s$sphericity.tests) > 0 &&
      src %in% rownames(s$sphericity.tests)
    afex_rows[[length(afex_rows) + 1]] <- data.frame(
      dataset = nm, source = src,
      ss = uni[src, "Sum Sq"], df1 = uni[src, "num Df"], df2 = uni[src, "den Df"],
      F = uni[src, "F value"], p_unc = uni[src, "Pr(>F)"],
      error_ss = uni[src, "Error SS"],
      eps_gg = if (has_corr) s$pval.adjustments[src, "GG eps"] else NA,
      eps_hf = if (has_corr) s$pval.adjustments[src, "HF eps"] else NA,
      p_gg = if (has_corr) s$pval.adjustments[src, "Pr(>F[GG])"] else NA,
      p_hf = if (has_corr) s$pval.adjustments[src, "Pr(>F[HF])"] else NA,
      np2 = es[src, "pes"], ng2 = es[src, "ges"],
      mauchly_w = if (has_mauchly) s$sphericity.tests[src, "Test statistic"] else NA,
      mauchly_p = if (has_mauchly) s$sphericity.tests[src, "p-value"] else NA,
      p_afex_none = es[src, "Pr(>F)"],
      n_subjects = n_subj, n_input_subjects = length(unique(d$student_id)))
  }
}
afex_out <- do.call(rbind, afex_rows)
write_full(afex_out, file.path(out_dir, "anova_afex_results.csv"))

# ---------------------------------------------------------------------------
# Pairwise interaction contrasts on the completers: a pooled-variance t test of the
# change score (later - earlier) between mentee and control; F = t^2 with df (1, N - 2).
# Cross-checked against the condition:wave F of afex on the two waves only.
# ---------------------------------------------------------------------------
con_rows <- list()
for (nm in c("balanced", "unbalanced", "missing")) {
  d <- datasets[[nm]]
  w <- reshape(d, idvar = c("student_id", "condition"), timevar = "wave",
               direction = "wide")
  w <- w[complete.cases(w), ]
  pairs <- list(c("T1", "T2"), c("T2", "T3"), c("T1", "T3"))
  rows <- list()
  for (pr in pairs) {
    diff <- w[[paste0("score.", pr[2])]] - w[[paste0("score.", pr[1])]]
    tt <- t.test(diff[w$condition == "mentee"], diff[w$condition == "control"],
                 var.equal = TRUE)
    sub <- d[d$student_id %in% w$student_id & d$wave %in% pr, ]
    a2 <- suppressWarnings(suppressMessages(
      aov_ez(id = "student_id", dv = "score", data = sub, between = "condition",
             within = "wave", type = 3)))
    rows[[length(rows) + 1]] <- data.frame(
      dataset = nm, contrast = paste0(pr[2], "-", pr[1]),
      estimate = unname(tt$estimate[1] - tt$estimate[2]),
      F = unname(tt$statistic^2), df1 = 1, df2 = unname(tt$parameter),
      p_unc = tt$p.value, F_afex = anova(a2, correction = "none")["condition:wave", "F"],
      n = nrow(w))
  }
  r <- do.call(rbind, rows)
  r$p_holm <- p.adjust(r$p_unc, method = "holm")
  con_rows[[length(con_rows) + 1]] <- r
}
con_out <- do.call(rbind, con_rows)
write_full(con_out, file.path(out_dir, "anova_contrasts_results.csv"))

writeLines(toJSON(list(R = R.version.string,
                       afex = as.character(packageVersion("afex")),
                       car = as.character(packageVersion("car"))), auto_unbox = TRUE),
           file.path(out_dir, "anova_versions.json"))
cat("done\n")
