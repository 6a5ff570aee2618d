# Reference values for mut_eval.stats.adjustment (issue 13): the covariate-adjusted and
# weighted doubly robust DiD regressions with CR2 (clubSandwich) and HC2 (sandwich)
# standard errors, and the sensitivity benchmark (Cinelli & Hazlett 2020, written out
# from the paper's formulas; sensemakr is not in Debian).
# Data: adjusted_data.csv (adjusted_make_data.py). Run from the repo root:
#   Rscript tests/reference/adjusted_reference.R
suppressPackageStartupMessages({library(clubSandwich); library(sandwich); library(jsonlite)})
d <- read.csv("tests/reference/adjusted_data.csv", stringsAsFactors = FALSE)
d$ses <- factor(d$ses, levels = c("high", "low", "unknown"))   # sorted levels, first = reference
cc <- d[!is.na(d$T2), ]
cc$change <- cc$T2 - cc$T1
fits <- list(
  covariate_adjusted = lm(T2 ~ mentee + T1 + age + mig + ses, data = cc),
  weighted_dr = lm(T2 ~ mentee + T1 + age + mig + ses, data = cc, weights = w),
  weighted_dr_change = lm(change ~ mentee + age + mig + ses, data = cc, weights = w))
out <- list()
for (m in names(fits)) {
  f <- fits[[m]]
  ct <- coef_test(f, vcov = "CR2", cluster = cc$klass, test = "Satterthwaite")
  V <- vcovHC(f, type = "HC2")
  out[[m]] <- list(
    estimate = unname(coef(f)["mentee"]),
    cr2_se = ct$SE[2], cr2_df = ct$df_Satt[2], cr2_p = ct$p_Satt[2],
    hc2_se = sqrt(V["mentee", "mentee"]), hc2_df = f$df.residual,
    hc2_p = 2 * pt(abs(coef(f)["mentee"] / sqrt(V["mentee", "mentee"])), f$df.residual, lower.tail = FALSE))
}
# sensitivity benchmark: migration background in the OLS ANCOVA
f <- fits$covariate_adjusted
tb <- summary(f)$coefficients
r2yxj <- tb["mig", "t value"]^2 / (tb["mig", "t value"]^2 + f$df.residual)
fd <- lm(mentee ~ T1 + age + mig + ses, data = cc)
td <- summary(fd)$coefficients
r2dxj <- td["mig", "t value"]^2 / (td["mig", "t value"]^2 + fd$df.residual)
bound <- function(k) {            # Cinelli & Hazlett 2020 eq. 28 with kd = ky = k
  r2dz <- k * r2dxj / (1 - r2dxj)
  eta2 <- k * r2dxj^2 / ((1 - k * r2dxj) * (1 - r2dxj))
  r2yz <- min(1, ((sqrt(k) + sqrt(eta2)) / sqrt(1 - eta2))^2 * r2yxj / (1 - r2yxj))
  c(r2dz = r2dz, r2yz = r2yz)
}
# a "primary" estimate to which the bounds are applied (numbers as a mixed model gives)
est <- 0.21; se <- 0.08; dof <- 12.5
adj <- function(k) { b <- bound(k); sign(est) * (abs(est) - sqrt(b[["r2yz"]] * b[["r2dz"]] / (1 - b[["r2dz"]])) * se * sqrt(dof)) }
b1 <- bound(1)
adj_se <- sqrt(1 - b1[["r2yz"]]) / sqrt(1 - b1[["r2dz"]]) * se * sqrt(dof / (dof - 1))
# admissible strengths: R2(D~Z|X) < 1 and eta2 < 1, both k < (1 - r2dxj) / r2dxj
k0 <- uniroot(adj, c(1e-6, (1 - r2dxj) / r2dxj * (1 - 1e-9)), tol = 1e-12)$root
out$benchmark <- list(r2yxj_dx = r2yxj, r2dxj_x = r2dxj, r2dz_x = b1[["r2dz"]], r2yz_dx = b1[["r2yz"]],
                      primary = c(estimate = est, se = se, df = dof), adjusted_estimate = adj(1),
                      adjusted_ci_low = adj(1) - qt(0.975, dof) * adj_se,
                      adjusted_ci_high = adj(1) + qt(0.975, dof) * adj_se, k_explain_away = k0)
out$versions <- list(R = R.version.string, clubSandwich = as.character(packageVersion("clubSandwich")),
                     sandwich = as.character(packageVersion("sandwich")))
write_json(out, "tests/reference/adjusted_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
