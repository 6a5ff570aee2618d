# Reference values for test_logistic_equals_r_glm in tests/test_balance.py
# (mut_eval/stats/balance.py: logistic_att_weights).
#
#   Rscript tests/reference/balance_glm_reference.R
#
# Reads balance_glm_data.csv (written by balance_glm_make_data.py) and writes
# balance_glm_reference.csv with columns kind, name, value:
# - kind "coef": the coefficients of glm(mentee ~ age + ses + gender + origin,
#   family = binomial), origin with levels NL (reference), MA, TR, gender boy (reference);
#   tightened convergence (epsilon 1e-14) so that both fits are at the MLE to ~1e-10;
# - kind "ps": the fitted propensity scores, one per row in file order;
# - kind "weight": the ATT weights, 1 for mentees and ps/(1 - ps) for controls (WeightIt's
#   get_w_from_ps(ps, treat, estimand = "ATT")).
here <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference"
})
d <- read.csv(file.path(here, "balance_glm_data.csv"), stringsAsFactors = FALSE)
d$gender <- factor(d$gender, levels = c("boy", "girl"))
d$origin <- factor(d$origin, levels = c("NL", "MA", "TR"))
fit <- glm(mentee ~ age + ses + gender + origin, family = binomial, data = d,
           control = glm.control(epsilon = 1e-14, maxit = 100))
stopifnot(fit$converged)
ps <- unname(fitted(fit))
w <- ifelse(d$mentee == 1, 1, ps / (1 - ps))
out <- rbind(
  data.frame(kind = "coef", name = names(coef(fit)), value = unname(coef(fit))),
  data.frame(kind = "ps", name = as.character(seq_along(ps)), value = ps),
  data.frame(kind = "weight", name = as.character(seq_along(w)), value = w)
)
write.csv(out, file.path(here, "balance_glm_reference.csv"), row.names = FALSE)
cat("glm:", R.version.string, "\n")
