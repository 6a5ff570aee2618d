# Reference values for mut_eval.stats.meta (issue 14 item 2: pooling effects across cohorts).
#
#   cd tests/reference && Rscript meta_reference.R
#
# Needs metafor (Debian r-cran-metafor; the stored values: metafor 3.8.1, R 4.2.2) and
# jsonlite. The data sets meta_*.csv are written once (seeded) and read back from the CSV
# before every fit, so R and Python use the same doubles; delete a CSV to regenerate it.
# Each cohort is a Hedges' g with its large-sample variance
#   vi = (n1 + n2) / (n1 n2) + g^2 / (2 (n1 + n2)),
# true effects drawn around mu with between-cohort SD tau.
#
# Data sets (cohort "YYYY-YYYY+1" in time order):
#   k2        2 cohorts
#   k4        4 cohorts
#   k10      10 cohorts, clear heterogeneity
#   boundary  5 cohorts with nearly equal g and large vi: REML tau^2 = 0 at the
#             boundary and the Q-profile CI of tau^2 is {0} (Q(0) below the lower quantile)
#   trend     7 cohorts whose true effect rises with the year (meta-regression)
#
# Per data set the JSON holds, for the fits with tight convergence (control threshold
# 1e-12 for the Fisher scoring, tol 1e-12 for the Q-profile root finding):
#   reml_knha    rma(yi, vi, method = "REML", test = "knha") + predict() + confint()
#   reml_adhoc   the same with test = "adhoc" (KH scaling never below 1)
#   reml_z       rma(method = "REML", test = "z") + predict()
#   fe           rma(yi, vi, method = "FE") (z test) + predict()
#   cumul        cumul() of reml_knha in cohort order
#   trend        rma(yi, vi, mods = ~ year, method = "REML", test = "knha") (and "adhoc")
# and "reml_knha_default": the same fit with metafor's default control (threshold 1e-5,
# uniroot tol .Machine$double.eps^0.25), to show how far metafor's own defaults sit from
# the converged values.
suppressPackageStartupMessages({ library(metafor); library(jsonlite) })

here <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference"
})
TIGHT <- list(threshold = 1e-12, maxiter = 10000)
QP_TIGHT <- list(tol = 1e-12, maxiter = 10000)

generate <- function(name, seed, k, first_year, mu, tau, slope = 0, n_range = c(60, 240),
                     g_fixed = NULL) {
  path <- file.path(here, paste0("meta_", name, ".csv"))
  if (file.exists(path)) return(invisible(path))
  set.seed(seed)
  year <- first_year + seq_len(k) - 1
  n1 <- sample(n_range[1]:n_range[2], k, replace = TRUE)
  n2 <- sample(n_range[1]:n_range[2], k, replace = TRUE)
  theta <- mu + slope * (year - first_year) + rnorm(k, 0, tau)
  se0 <- sqrt((n1 + n2) / (n1 * n2))
  g <- if (is.null(g_fixed)) theta + rnorm(k, 0, se0) else g_fixed
  g <- round(g, 6)
  vi <- signif((n1 + n2) / (n1 * n2) + g^2 / (2 * (n1 + n2)), 8)
  d <- data.frame(cohort = paste0(year, "-", year + 1), outcome = "self_efficacy",
                  contrast = "T3-T1", yi = g, vi = vi, n_mentee = n1, n_control = n2)
  write.csv(d, path, row.names = FALSE, quote = FALSE)
  invisible(path)
}

generate("k2", 1403, 2, 2021, 0.20, 0.20)
generate("k4", 1406, 4, 2019, 0.20, 0.20)
generate("k10", 1410, 10, 2013, 0.20, 0.25)
generate("boundary", 1405, 5, 2018, 0.20, 0, n_range = c(20, 40),
         g_fixed = c(0.201, 0.199, 0.2003, 0.1995, 0.2008))
generate("trend", 1411, 7, 2016, 0.05, 0.12, slope = 0.05)

fit_list <- function(res, pred, ci = NULL) {
  out <- list(
    k = res$k, p = res$p, beta = I(unname(c(res$beta))), se = I(unname(res$se)),
    stat = I(unname(res$zval)), pval = I(unname(res$pval)), df = if (is.null(res$ddf) || is.na(res$ddf[1])) NA else res$ddf[1],
    ci_low = I(unname(res$ci.lb)), ci_high = I(unname(res$ci.ub)),
    tau2 = res$tau2, se_tau2 = res$se.tau2, i2 = res$I2, h2 = res$H2,
    q = res$QE, q_df = res$k - res$p, q_p = res$QEp,
    qm = res$QM, qm_df1 = res$QMdf[1], qm_df2 = res$QMdf[2], qm_p = res$QMp,
    s2w = res$s2w)
  if (!is.null(res$R2)) out$r2 <- res$R2
  if (!is.null(pred)) {
    out$pred <- pred$pred; out$pred_se <- pred$se
    out$pred_ci_low <- pred$ci.lb; out$pred_ci_high <- pred$ci.ub
    out$pi_low <- pred$pi.lb; out$pi_high <- pred$pi.ub
  }
  if (!is.null(ci)) {
    out$tau2_ci_low <- ci$random["tau^2", "ci.lb"]
    out$tau2_ci_high <- ci$random["tau^2", "ci.ub"]
  }
  out
}

read_set <- function(name) {
  d <- read.csv(file.path(here, paste0("meta_", name, ".csv")), stringsAsFactors = FALSE,
                colClasses = c(cohort = "character"))
  d$year <- as.numeric(substr(d$cohort, 1, 4))
  d[order(d$cohort), ]
}

out <- list()
for (name in c("k2", "k4", "k10", "boundary", "trend")) {
  d <- read_set(name)
  r <- list()
  knha <- rma(yi, vi, data = d, method = "REML", test = "knha", control = TIGHT)
  r$reml_knha <- fit_list(knha, predict(knha), confint(knha, control = QP_TIGHT))
  dflt <- rma(yi, vi, data = d, method = "REML", test = "knha")
  r$reml_knha_default <- fit_list(dflt, predict(dflt), confint(dflt))
  adhoc <- rma(yi, vi, data = d, method = "REML", test = "adhoc", control = TIGHT)
  r$reml_adhoc <- fit_list(adhoc, predict(adhoc), confint(adhoc, control = QP_TIGHT))
  z <- rma(yi, vi, data = d, method = "REML", test = "z", control = TIGHT)
  r$reml_z <- fit_list(z, predict(z))
  fe <- rma(yi, vi, data = d, method = "FE")
  r$fe <- fit_list(fe, predict(fe))
  cu <- cumul(knha)
  r$cumul <- list(cohort = d$cohort, estimate = cu$estimate, se = cu$se, stat = if (is.null(cu$tval)) cu$zval else cu$tval,
                  pval = cu$pval, ci_low = cu$ci.lb, ci_high = cu$ci.ub, q = cu$Q, q_p = cu$Qp,
                  tau2 = cu$tau2, i2 = cu$I2, h2 = cu$H2)
  if (nrow(d) >= 4) {
    tr <- rma(yi, vi, mods = ~ year, data = d, method = "REML", test = "knha", control = TIGHT)
    r$trend_knha <- fit_list(tr, NULL)
    tra <- rma(yi, vi, mods = ~ year, data = d, method = "REML", test = "adhoc", control = TIGHT)
    r$trend_adhoc <- fit_list(tra, NULL)
  }
  out[[name]] <- r
}
out$versions <- list(R = R.version.string, metafor = as.character(packageVersion("metafor")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE),
           file.path(here, "meta_reference.json"))
