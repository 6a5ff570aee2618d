# Reference for tests/test_sensitivity.py: the Darfur regression of Cinelli & Hazlett
# (2020, JRSS-B 82:39) fitted with base R lm, and the partial R2 of the benchmark
# covariate `female` with the outcome (given D and X) and with the treatment (given X),
# exactly as sensemakr 0.1.6 ovb_partial_r2_bound.lm forms them (treatment regressed on
# the other columns of the model matrix). Base R only.
# Data: sensemakr's data/darfur.rda (github carloscinelli/sensemakr @0744523).
# Usage: Rscript sensitivity_darfur.R path/to/darfur.rda > sensitivity_darfur.json
args <- commandArgs(trailingOnly = TRUE)
load(args[1])
m <- lm(peacefactor ~ directlyharmed + age + farmer_dar + herder_dar +
          pastvoted + hhsize_darfur + female + village, data = darfur)
cf <- coef(summary(m))
dof <- m$df.residual
t_fy <- cf["female", "t value"]
X <- model.matrix(m)
d <- X[, "directlyharmed"]
XX <- X[, colnames(X) != "directlyharmed", drop = FALSE]
md <- lm(d ~ XX + 0)
t_fd <- coef(summary(md))["XXfemale", "t value"]
num <- function(x) sprintf("%.17g", x)
cat("{\n",
    '  "source": "R ', R.version$major, ".", R.version$minor,
    ' lm on sensemakr data/darfur.rda (carloscinelli/sensemakr @0744523)",\n',
    '  "estimate": ', num(cf["directlyharmed", "Estimate"]), ",\n",
    '  "se": ', num(cf["directlyharmed", "Std. Error"]), ",\n",
    '  "t": ', num(cf["directlyharmed", "t value"]), ",\n",
    '  "df": ', dof, ",\n",
    '  "r2yxj_dx_female": ', num(t_fy^2 / (t_fy^2 + dof)), ",\n",
    '  "r2dxj_x_female": ', num(t_fd^2 / (t_fd^2 + md$df.residual)), "\n",
    "}\n", sep = "")
