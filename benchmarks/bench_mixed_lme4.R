# R side of benchmarks/bench_mixed.py: the same multilevel DiD workload timed in
# lme4 1.1-31 (REML fit), lmerTest 3.1-3 (Satterthwaite) and pbkrtest 0.5.2 (Kenward-Roger).
#
#   Rscript benchmarks/bench_mixed_lme4.R DATA.csv [KR_SCHOOLS]
#
# DATA.csv: written by `bench_mixed.py --csv`; columns outcome, student_id, school, class,
# wave (T1/T2/T3), condition (control/mentee), score. Per outcome:
#   fit   lme4::lmer(score ~ condition * wave + (1 | school) + (1 | school:class)
#                    + (1 | school:class:wave) + (1 | student_id), REML = TRUE)
#   satt  lmerTest::as_lmerModLmerTest + contest1D for the 3 DiD contrasts (full data)
#   kr    pbkrtest::vcovAdj + Lb_ddf for the 3 DiD contrasts, first outcome only, on the
#         schools numbered below KR_SCHOOLS (default 2, about 2,900 rows): pbkrtest works
#         with the dense n x n marginal covariance and its products with each G_k, so the
#         full data (58,000 rows, a 27 GB matrix each) do not fit in memory, and 2 schools
#         already take minutes; kr_fit is the lme4 fit of that subset
#   icc   lme4::lmer(score ~ 1 + (1 | school) + (1 | school:class)) on the T1 rows
# Prints one line per outcome and step: `time <step> <outcome> <seconds>` (elapsed) and
# the df / SEs as `value <name> <outcome> <v1> <v2> <v3>`, for bench_mixed.py to compare.
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest)
})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
kr_schools <- if (length(args) > 1) as.integer(args[2]) else 2L
d$condition <- factor(d$condition, levels = c("control", "mentee"))
d$wave <- factor(d$wave, levels = c("T1", "T2", "T3"))
d$school_num <- d$school
d$school <- factor(d$school)
d$class <- factor(d$class)
d$student_id <- factor(d$student_id)
f <- score ~ condition * wave + (1 | school) + (1 | school:class) + (1 | school:class:wave) +
  (1 | student_id)
L <- rbind(c(0, 0, 0, 0, 1, 0), c(0, 0, 0, 0, 0, 1), c(0, 0, 0, 0, -1, 1))
el <- function(expr) unname(system.time(expr)["elapsed"])
say <- function(kind, name, o, v) cat(kind, name, o, format(v, digits = 10), "\n")
for (o in unique(d$outcome)) {
  dd <- d[d$outcome == o, ]
  say("time", "fit", o, el(m <- lme4::lmer(f, data = dd, REML = TRUE)))
  say("time", "satt", o, el({
    mt <- lmerTest::as_lmerModLmerTest(m)
    st <- do.call(rbind, lapply(1:3, function(i) lmerTest::contest1D(mt, L[i, ])))
  }))
  say("value", "df_satterthwaite", o, st$df)
  say("value", "se", o, st[["Std. Error"]])
  t1 <- droplevels(dd[dd$wave == "T1", ])
  say("time", "icc", o, el(m0 <- lme4::lmer(score ~ 1 + (1 | school) + (1 | school:class),
                                            data = t1, REML = TRUE)))
  vc <- as.data.frame(VarCorr(m0))
  say("value", "icc_varcomp", o, vc$vcov[match(c("school", "school:class", "Residual"), vc$grp)])
  if (o != d$outcome[1]) next
  sub <- droplevels(dd[dd$school_num < kr_schools, ])
  say("time", "kr_fit", o, el(ms <- lme4::lmer(f, data = sub, REML = TRUE)))
  say("time", "kr", o, el({
    va <- pbkrtest::vcovAdj(ms)
    kr_df <- sapply(1:3, function(i) pbkrtest::Lb_ddf(L[i, , drop = FALSE], vcov(ms), va))
    kr_se <- sqrt(diag(L %*% as.matrix(va) %*% t(L)))
  }))
  say("value", "kr_subset_df", o, kr_df)
  say("value", "kr_subset_se", o, kr_se)
}
