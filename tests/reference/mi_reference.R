# Reference values for tests/test_imputation.py (mut_eval/stats/imputation.py).
#
#   Rscript tests/reference/mi_reference.R
#
# Reads mi_imputations.csv (mut_eval's m = 5 completed data sets, stacked with .imp/.id,
# written by mi_make_data.py) and writes mi_reference.json:
# - "mice_pool": mice::as.mids on the stacked data, with(imp, lm(T_k - T_j ~ condition))
#   and mice::pool (complete-data df = n - 2, Barnard-Rubin df), the condition term
#   (mentee - control): estimate, ubar, b, t, dfcom, df, riv, lambda, fmi, and from
#   summary(conf.int = TRUE) std.error, p.value, conf.low, conf.high.
# - "per_imputation": per completed data set, clubSandwich::coef_test(lm, vcov = "CR2",
#   cluster = class, test = "Satterthwaite") for the condition term (beta, SE, df_Satt),
#   with cluster = class ("cr2") and with every pupil its own cluster ("hc2"); and the
#   lm estimate and its model-based SE ("ols"), the inputs of mice::pool above.
# - "pooled_cr2": mice::pool.scalar(Q, U = SE^2, n = df_Satt + 2, k = 2) of those, i.e.
#   Rubin's rules with the Satterthwaite df as complete-data df.
# - "pool_scalar_cases": pool.scalar on fixed inputs: b = 0, dfcom = Inf, m = 2.
suppressMessages({
  library(mice)
  library(clubSandwich)
  library(jsonlite)
})

here <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference"
})

long <- read.csv(file.path(here, "mi_imputations.csv"), stringsAsFactors = TRUE)
long$condition <- factor(long$condition, levels = c("control", "mentee"))
imp <- suppressWarnings(as.mids(long))
m <- imp$m
cells <- expand.grid(contrast = c("T2-T1", "T3-T1"), outcome = c("y", "z"),
                     stringsAsFactors = FALSE)[, c("outcome", "contrast")]
change_formula <- function(outcome, contrast) {
  w <- strsplit(contrast, "-")[[1]]
  as.formula(sprintf("I(%s_%s - %s_%s) ~ condition", outcome, w[1], outcome, w[2]))
}

mice_pool <- list()
per_imp <- list()
pooled_cr2 <- list()
for (i in seq_len(nrow(cells))) {
  o <- cells$outcome[i]; k <- cells$contrast[i]
  f <- change_formula(o, k)
  fits <- lapply(seq_len(m), function(l) lm(f, data = complete(imp, l)))
  pooled <- pool(as.mira(fits))
  s <- summary(pooled, conf.int = TRUE)
  pr <- pooled$pooled[pooled$pooled$term == "conditionmentee", ]
  sr <- s[s$term == "conditionmentee", ]
  mice_pool[[i]] <- data.frame(outcome = o, contrast = k, estimate = pr$estimate,
    ubar = pr$ubar, b = pr$b, t = pr$t, dfcom = pr$dfcom, df = pr$df, riv = pr$riv,
    lambda = pr$lambda, fmi = pr$fmi, se = sr$std.error, p = sr$p.value,
    ci_low = sr[["2.5 %"]], ci_high = sr[["97.5 %"]])
  ols <- t(sapply(fits, function(fit) coef(summary(fit))["conditionmentee", 1:2]))
  per_imp[[length(per_imp) + 1]] <- data.frame(outcome = o, contrast = k, cluster = "ols",
    imputation = seq_len(m), estimate = ols[, 1], se = ols[, 2], df = fits[[1]]$df.residual)
  for (type in c("cr2", "hc2")) {
    ct <- lapply(seq_len(m), function(l) {
      d <- complete(imp, l)
      cl <- if (type == "cr2") d$class else seq_len(nrow(d))
      r <- coef_test(fits[[l]], vcov = "CR2", cluster = cl, test = "Satterthwaite")
      r[r$Coef == "conditionmentee", ]
    })
    Q <- sapply(ct, function(r) r$beta)
    SE <- sapply(ct, function(r) r$SE)
    DF <- sapply(ct, function(r) r$df_Satt)
    per_imp[[length(per_imp) + 1]] <- data.frame(outcome = o, contrast = k, cluster = type,
      imputation = seq_len(m), estimate = Q, se = SE, df = DF)
    ps <- pool.scalar(Q, SE^2, n = DF[1] + 2, k = 2)
    lam <- (1 + 1 / m) * ps$b / ps$t
    pooled_cr2[[length(pooled_cr2) + 1]] <- data.frame(outcome = o, contrast = k,
      cluster = type, qbar = ps$qbar, ubar = ps$ubar, b = ps$b, t = ps$t, df = ps$df,
      riv = ps$r, lambda = lam, fmi = ps$fmi,
      ci_low = ps$qbar - qt(0.975, ps$df) * sqrt(ps$t),
      ci_high = ps$qbar + qt(0.975, ps$df) * sqrt(ps$t),
      p = 2 * pt(abs(ps$qbar / sqrt(ps$t)), pmax(ps$df, 0.001), lower.tail = FALSE))
  }
}

case <- function(Q, U, n, k) {
  ps <- pool.scalar(Q, U, n = n, k = k)
  list(Q = Q, U = U, dfcom = n - k, qbar = ps$qbar, ubar = ps$ubar, b = ps$b, t = ps$t,
       df = ps$df, riv = ps$r, fmi = ps$fmi)
}
cases <- list(
  b_zero = case(rep(0.3, 4), c(0.01, 0.012, 0.011, 0.009), n = 50, k = 2),
  dfcom_inf = case(c(0.31, 0.22, 0.27, 0.35, 0.18), c(0.010, 0.012, 0.011, 0.009, 0.010),
                   n = Inf, k = 1),
  m_two = case(c(1.2, 0.7), c(0.09, 0.11), n = 12, k = 2)
)

out <- list(
  versions = list(R = R.version.string, mice = as.character(packageVersion("mice")),
                  clubSandwich = as.character(packageVersion("clubSandwich"))),
  m = m,
  mice_pool = do.call(rbind, mice_pool),
  per_imputation = do.call(rbind, per_imp),
  pooled_cr2 = do.call(rbind, pooled_cr2),
  pool_scalar_cases = cases
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(here, "mi_reference.json"))
