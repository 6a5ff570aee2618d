# Reference values for tests/test_lmm.py, tests/test_effects.py and tests/test_wwc.py.
#
# Run from the repository root:   Rscript tests/reference/lmm_reference.R
# R 4.2.2, lme4 1.1-31, emmeans 1.8.4-1, jsonlite 1.8.4.
#
# The script generates deterministic data sets (set.seed), writes them as CSV,
# READS THEM BACK and only then fits, so R and Python see the same numbers.
# Outputs (all under tests/reference/, prefixed lmm_):
#   lmm_study.csv          long data resembling the study: 120 mentees vs 60 controls,
#                          3 waves, missing waves that depend on the unobserved score
#                          itself (missing not at random), covariates age and gender
#   lmm_small.csv          small unbalanced data (8 vs 5 pupils, holes in every pattern)
#   lmm_students.csv       one row per pupil of the study data (for sample_table)
#   lmm_{study,small,study_cov}_{fixed,emm,did}.csv and _varcomp.json
#                          lme4::lmer(REML) fixed effects, emmeans EMMs and the
#                          difference-in-differences contrasts (asymptotic df = Wald z)
#   lmm_study_wwc.csv      baseline equivalence (Hedges' g of T1 difference per contrast
#                          sample) and attrition rates, by formula
#   lmm_sample_tests.csv   Table-1 tests: Welch t.test, chisq.test(correct = FALSE),
#                          fisher.test, Cohen's d and Cohen's h
suppressPackageStartupMessages({
  library(lme4)
  library(emmeans)
  library(jsonlite)
})
emm_options(lmer.df = "asymptotic")

out <- function(name) file.path("tests", "reference", name)
wr <- function(df, name) write.csv(df, out(name), row.names = FALSE)

# ---------------------------------------------------------------------------
# 1. data
# ---------------------------------------------------------------------------
set.seed(20240501)
waves <- c("T1", "T2", "T3")

make_study <- function(n_m, n_c) {
  n <- n_m + n_c
  id <- sprintf("S%04d", seq_len(n))
  cond <- c(rep("mentee", n_m), rep("control", n_c))
  school <- sprintf("sch%d", sample(1:4, n, TRUE))
  class <- paste0(school, "_", sample(c("a", "b"), n, TRUE))
  age <- round(rnorm(n, 12.5, 0.6), 2)
  gender <- sample(c("girl", "boy"), n, TRUE, prob = c(.55, .45))
  u <- rnorm(n, 0, 0.5)
  mu <- matrix(c(3.6, 3.45, 3.3), n, 3, byrow = TRUE)
  eff <- outer(cond == "mentee", c(0, 0.12, 0.20))
  y <- mu + eff + u + 0.1 * (gender == "girl") + 0.05 * (age - 12.5) +
    matrix(rnorm(3 * n, 0, 0.45), n, 3)
  # missing not at random: the lower the (unobserved) score at a wave, the more
  # likely it is missing; controls drop out more
  p_miss <- plogis(matrix(c(-2.5, -1.6, -1.2), n, 3, byrow = TRUE) -
                     1.2 * (y - 3.4) + 0.4 * (cond == "control"))
  miss <- matrix(runif(3 * n), n, 3) < p_miss
  long <- data.frame(
    student_id = rep(id, 3), condition = rep(cond, 3), school = rep(school, 3),
    class = rep(class, 3), wave = rep(waves, each = n),
    outcome = "self_efficacy", score = round(as.vector(y), 6),
    age = rep(age, 3), gender = rep(gender, 3), stringsAsFactors = FALSE
  )
  long <- long[!as.vector(miss), ]
  long <- long[order(long$student_id, long$wave), ]
  students <- data.frame(student_id = id, condition = cond, age = age,
                         gender = gender, stringsAsFactors = FALSE)
  list(long = long, students = students)
}

st <- make_study(120, 60)
wr(st$long, "lmm_study.csv")

# small unbalanced data: 8 mentees, 5 controls; some pupils have one score only
small_pattern <- list(
  c(1, 1, 1), c(1, 1, 0), c(1, 0, 1), c(1, 1, 1), c(0, 1, 1), c(1, 1, 1), c(1, 0, 0),
  c(1, 1, 1),                                   # mentees
  c(1, 1, 1), c(1, 0, 1), c(1, 1, 0), c(0, 1, 1), c(1, 1, 1)  # controls
)
sm_rows <- list()
for (i in seq_along(small_pattern)) {
  cond <- if (i <= 8) "mentee" else "control"
  u <- rnorm(1, 0, 0.6)
  for (w in 1:3) if (small_pattern[[i]][w] == 1) {
    sm_rows[[length(sm_rows) + 1]] <- data.frame(
      student_id = sprintf("P%02d", i), condition = cond, school = "sch1",
      class = "sch1_a", wave = waves[w], outcome = "school_belonging",
      score = round(3 + u - 0.15 * (w - 1) + 0.2 * (cond == "mentee") * (w - 1) +
                      rnorm(1, 0, 0.5), 4),
      stringsAsFactors = FALSE)
  }
}
wr(do.call(rbind, sm_rows), "lmm_small.csv")

# pupils table for sample_table: add ses, origin, migration background, first gen
n <- nrow(st$students)
stu <- st$students
stu$gender[c(7, 150)] <- "unknown"        # unknown gender: excluded from % girls
stu$gender[c(33)] <- "other"
stu$ses <- sample(c("low", "middle", "high", "unknown"), n, TRUE,
                  prob = c(.45, .30, .15, .10))
stu$origin <- sample(c("dutch", "moroccan", "turkish", "surinamese", "antillean",
                       "other_western", "other_non_western", "unknown"), n, TRUE,
                     prob = c(.30, .20, .18, .12, .03, .05, .09, .03))
stu$migration_background <- ifelse(stu$origin == "dutch", "no",
                              ifelse(stu$origin == "unknown", "unknown", "yes"))
stu$first_generation <- sample(c("yes", "no", "unknown"), n, TRUE,
                               prob = c(.6, .3, .1))
stu$age[c(5, 140)] <- NA                  # missing age: excluded from the t test
wr(stu, "lmm_students.csv")

# ---------------------------------------------------------------------------
# 2. mixed models
# ---------------------------------------------------------------------------
ctrl <- lmerControl(optimizer = "bobyqa",
                    optCtrl = list(rhobeg = 0.2, rhoend = 1e-12, maxfun = 1e5))

term_name <- function(x) {
  x <- gsub("\\(Intercept\\)", "Intercept", x)
  x <- gsub("conditionmentee", "condition[T.mentee]", x)
  x <- gsub("waveT([23])", "wave[T.T\\1]", x)
  x <- gsub("gender([a-z]+)", "gender[T.\\1]", x)
  x
}

did_vectors <- function(grid) {
  cell <- function(c, w) as.numeric(grid$condition == c & grid$wave == w)
  dd <- function(a, b) cell("mentee", b) - cell("mentee", a) - cell("control", b) + cell("control", a)
  list(`T2-T1` = dd("T1", "T2"), `T3-T1` = dd("T1", "T3"), `T3-T2` = dd("T2", "T3"))
}

fit_and_write <- function(d, tag, covariates = character()) {
  d$condition <- factor(d$condition, levels = c("control", "mentee"))
  d$wave <- factor(d$wave, levels = waves)
  if ("gender" %in% covariates) d$gender <- factor(d$gender)
  rhs <- paste(c("condition * wave", covariates), collapse = " + ")
  f <- as.formula(paste("score ~", rhs, "+ (1 | student_id)"))
  m <- lmer(f, data = d, REML = TRUE, control = ctrl)

  cf <- summary(m)$coefficients
  fx <- data.frame(term = term_name(rownames(cf)), estimate = cf[, 1], se = cf[, 2],
                   z = cf[, 3], p = 2 * pnorm(-abs(cf[, 3])))
  wr(fx, sprintf("lmm_%s_fixed.csv", tag))

  vc <- as.data.frame(VarCorr(m))
  write_json(list(
    sigma2_student = vc$vcov[vc$grp == "student_id"],
    sigma2_resid = vc$vcov[vc$grp == "Residual"],
    reml_criterion = unname(REMLcrit(m)),
    loglik = as.numeric(logLik(m)),
    n_obs = nobs(m), n_students = unname(ngrps(m)),
    theta = unname(getME(m, "theta"))
  ), out(sprintf("lmm_%s_varcomp.json", tag)), digits = NA, auto_unbox = TRUE)

  emm <- emmeans(m, ~ condition * wave)
  es <- as.data.frame(summary(emm, infer = TRUE))
  wr(data.frame(condition = es$condition, wave = es$wave, emm = es$emmean, se = es$SE,
                ci_low = es$asymp.LCL, ci_high = es$asymp.UCL),
     sprintf("lmm_%s_emm.csv", tag))

  grid <- as.data.frame(emm)
  cs <- as.data.frame(summary(contrast(emm, method = did_vectors(grid)), infer = TRUE))
  did <- data.frame(contrast = cs$contrast, estimate = cs$estimate, se = cs$SE,
                    z = cs$z.ratio, p = cs$p.value, ci_low = cs$asymp.LCL,
                    ci_high = cs$asymp.UCL)
  # WWC effect size of the DiD: g = omega * estimate / S, S the pooled
  # within-condition SD at T1 of all pupils scored at T1, omega = 1 - 3/(4N - 9)
  t1 <- d[d$wave == "T1", ]
  ym <- t1$score[t1$condition == "mentee"]; yc <- t1$score[t1$condition == "control"]
  nm <- length(ym); nc <- length(yc); N <- nm + nc
  S <- sqrt(((nm - 1) * var(ym) + (nc - 1) * var(yc)) / (N - 2))
  omega <- 1 - 3 / (4 * N - 9)
  did$sd_pooled_t1 <- S
  did$n_t1 <- N
  did$omega <- omega
  did$g <- omega * did$estimate / S
  did$g_ci_low <- omega * did$ci_low / S
  did$g_ci_high <- omega * did$ci_high / S
  did$improvement_index <- 100 * pnorm(did$g) - 50
  wr(did, sprintf("lmm_%s_did.csv", tag))
  invisible(m)
}

study <- read.csv(out("lmm_study.csv"), stringsAsFactors = FALSE)
small <- read.csv(out("lmm_small.csv"), stringsAsFactors = FALSE)
fit_and_write(study, "study")
fit_and_write(small, "small")
fit_and_write(study, "study_cov", covariates = c("age", "gender"))

# ---------------------------------------------------------------------------
# 3. WWC baseline equivalence and attrition on the study data (by formula)
# ---------------------------------------------------------------------------
hedges <- function(a, b) {
  na <- length(a); nb <- length(b); N <- na + nb
  S <- sqrt(((na - 1) * var(a) + (nb - 1) * var(b)) / (N - 2))
  (1 - 3 / (4 * N - 9)) * (mean(a) - mean(b)) / S
}
has <- function(w) unique(study$student_id[study$wave == w])
t1 <- study[study$wave == "T1", ]
cond_of <- setNames(st$students$condition, st$students$student_id)
enrolled <- c(mentee = 120, control = 60)
rows <- list()
for (cc in list(c("T1", "T2"), c("T1", "T3"), c("T2", "T3"))) {
  ids <- Reduce(intersect, list(has("T1"), has(cc[1]), has(cc[2])))
  x <- t1[t1$student_id %in% ids, ]
  a <- x$score[x$condition == "mentee"]; b <- x$score[x$condition == "control"]
  am <- sum(cond_of[ids] == "mentee"); ac <- sum(cond_of[ids] == "control")
  rows[[length(rows) + 1]] <- data.frame(
    contrast = paste0(cc[2], "-", cc[1]), n_mentee = length(a), n_control = length(b),
    g_baseline = hedges(a, b), enrolled_mentee = 120, enrolled_control = 60,
    analytic_mentee = am, analytic_control = ac,
    overall = 1 - (am + ac) / 180,
    differential = abs((1 - am / 120) - (1 - ac / 60)))
}
wr(do.call(rbind, rows), "lmm_study_wwc.csv")

# ---------------------------------------------------------------------------
# 4. Table-1 tests (sample_table)
# ---------------------------------------------------------------------------
stu <- read.csv(out("lmm_students.csv"), stringsAsFactors = FALSE)
res <- list()
add <- function(...) res[[length(res) + 1]] <<- data.frame(..., stringsAsFactors = FALSE)

am <- na.omit(stu$age[stu$condition == "mentee"]); ac <- na.omit(stu$age[stu$condition == "control"])
tt <- t.test(am, ac, var.equal = FALSE)
sp <- sqrt(((length(am) - 1) * var(am) + (length(ac) - 1) * var(ac)) / (length(am) + length(ac) - 2))
add(characteristic = "age", level = "mean", mentee_n = length(am), mentee_value = mean(am),
    mentee_sd = sd(am), control_n = length(ac), control_value = mean(ac), control_sd = sd(ac),
    statistic = unname(tt$statistic), df = unname(tt$parameter), test = "welch_t",
    p = tt$p.value, std_diff = (mean(am) - mean(ac)) / sp)

binary_row <- function(char, level, known) {
  s <- stu[known, ]
  xm <- s[[char]][s$condition == "mentee"]; xc <- s[[char]][s$condition == "control"]
  km <- sum(xm == level); kc <- sum(xc == level)
  tab <- matrix(c(km, length(xm) - km, kc, length(xc) - kc), 2, byrow = TRUE)
  expct <- outer(rowSums(tab), colSums(tab)) / sum(tab)
  if (any(expct < 5)) {
    ft <- fisher.test(tab); stat <- NA; df <- NA; test <- "fisher_exact"; p <- ft$p.value
  } else {
    ct <- suppressWarnings(chisq.test(tab, correct = FALSE))
    stat <- unname(ct$statistic); df <- unname(ct$parameter); test <- "chi2"; p <- ct$p.value
  }
  pm <- km / length(xm); pc <- kc / length(xc)
  add(characteristic = char, level = level, mentee_n = km, mentee_value = 100 * pm,
      mentee_sd = NA, control_n = kc, control_value = 100 * pc, control_sd = NA,
      statistic = stat, df = df, test = test, p = p,
      std_diff = 2 * asin(sqrt(pm)) - 2 * asin(sqrt(pc)))
}
omnibus_row <- function(char) {
  tab <- table(factor(stu$condition, levels = c("mentee", "control")), stu[[char]])
  ct <- suppressWarnings(chisq.test(tab, correct = FALSE))
  add(characteristic = char, level = "all", mentee_n = NA, mentee_value = NA, mentee_sd = NA,
      control_n = NA, control_value = NA, control_sd = NA, statistic = unname(ct$statistic),
      df = unname(ct$parameter), test = "chi2", p = ct$p.value, std_diff = NA)
}
all_rows <- rep(TRUE, nrow(stu))
binary_row("gender", "girl", stu$gender != "unknown")
for (lv in c("low", "middle", "high", "unknown")) binary_row("ses", lv, all_rows)
omnibus_row("ses")
binary_row("migration_background", "yes", stu$migration_background != "unknown")
for (lv in c("dutch", "moroccan", "turkish", "surinamese", "antillean", "other_western",
             "other_non_western", "unknown")) binary_row("origin", lv, all_rows)
omnibus_row("origin")
binary_row("first_generation", "yes", stu$first_generation != "unknown")
wr(do.call(rbind, res), "lmm_sample_tests.csv")
cat("done\n")
