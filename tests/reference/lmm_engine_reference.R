# Reference values for the generic REML engine (mut_eval.stats.lmm.reml_random_intercept),
# tests/test_lmm.py::test_engine_*.
#
# Run from the repository root:   Rscript tests/reference/lmm_engine_reference.R
# R 4.2.2, lme4 1.1-31, jsonlite 1.8.4.
#
# Writes lmm_engine_data.csv (deterministic, set.seed), READS IT BACK and fits
#   y_k ~ x1 + x2 + x1:x2 + x3 + (1 | g),  REML,  k = 1 (θ ≈ 0.8), 2 (θ ≈ 15)
# on 70 groups of 1–9 observations (unequal sizes, a within-group covariate x1, a
# group-level dummy x2, a within/between mix x3), so the engine is checked on a design
# other than condition × wave, with many distinct group sizes and a large variance
# ratio. Output lmm_engine_ref.json: fixef, SEs (sqrt(diag(vcov))), full vcov,
# sigma2_student, sigma2_resid, REML logLik, isSingular.
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
out <- function(name) file.path("tests", "reference", name)

set.seed(20240611)
G <- 70
n <- sample(1:9, G, replace = TRUE)
g <- rep(sprintf("g%02d", seq_len(G)), n)
N <- length(g)
x2g <- rbinom(G, 1, 0.4)
x1 <- round(rnorm(N, 10, 3), 3)
x3 <- round(rep(rnorm(G), n) + rnorm(N, 0, 0.5), 3)
x2 <- rep(x2g, n)
u1 <- rep(rnorm(G, 0, 0.8), n); u2 <- rep(rnorm(G, 0, 6), n)
y1 <- round(2 + 0.3 * x1 - 0.5 * x2 + 0.1 * x1 * x2 + 0.4 * x3 + u1 + rnorm(N), 6)
y2 <- round(2 + 0.3 * x1 - 0.5 * x2 + 0.1 * x1 * x2 + 0.4 * x3 + u2 + rnorm(N, 0, 0.4), 6)
dat <- data.frame(g = g, x1 = x1, x2 = x2, x3 = x3, y1 = y1, y2 = y2)
# shuffle rows so the engine cannot rely on groups being contiguous
dat <- dat[sample(N), ]
write.csv(dat, out("lmm_engine_data.csv"), row.names = FALSE)

d <- read.csv(out("lmm_engine_data.csv"), stringsAsFactors = FALSE)
ctrl <- lmerControl(optCtrl = list(rhobeg = 1e-2, rhoend = 1e-12))
res <- list()
for (yv in c("y1", "y2")) {
  m <- lmer(as.formula(paste(yv, "~ x1 + x2 + x1:x2 + x3 + (1 | g)")), data = d, REML = TRUE,
            control = ctrl)
  V <- as.matrix(vcov(m))
  res[[yv]] <- list(term = names(fixef(m)), estimate = unname(fixef(m)),
                    se = unname(sqrt(diag(V))), vcov = unname(V),
                    sigma2_student = as.numeric(VarCorr(m)$g), sigma2_resid = sigma(m)^2,
                    loglik = as.numeric(logLik(m)), singular = isSingular(m),
                    n_obs = nrow(d), n_groups = length(unique(d$g)))
}
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE), out("lmm_engine_ref.json"))
cat("wrote lmm_engine_data.csv, lmm_engine_ref.json\n")
