# Independent end-to-end reference for the synthetic example cohort
# (mut_eval/data/example_study), used by tests/test_example_reference.py.
#
# Run from the repository root:   Rscript tests/reference/example_reference.R
# Tested with R 4.2.2, afex 1.2-1, car 3.1-1, lme4 1.1-31, emmeans 1.8.4-1,
# pbkrtest 0.5.2, lmerTest 3.1-3, psych 2.2.9, jsonlite 1.8.4 (the versions actually
# used are written to example_versions.json).
#
# The script works from the RAW study files and shares no code with mut_eval: it reads
# the CSVs, scores the scales itself from the codebook as the contract states it
# (section 2, written out below rather than read from data_schemas/instruments.yaml,
# so a mistake in that file would show), and fits every model with the R reference
# implementations. The outputs contain aggregates only, keyed by outcome / condition /
# wave / source / contrast / scale / moderator; no pupil identifier is written.
#
# Outputs (tests/reference/):
#   example_descriptives.csv   outcome, sample (completers/available), condition, wave, n, mean, sd
#   example_anova.csv          afex::aov_ez(type = 3) on the completers of each outcome
#   example_lmm_fixed.csv      lme4::lmer(score ~ condition * wave + (1 | student), REML)
#   example_lmm_emm.csv        emmeans(~ condition * wave), asymptotic df
#   example_did.csv            difference-in-differences contrasts of the EMMs (z tests)
#   example_reliability.csv    psych::alpha on the reverse-coded items, listwise
#   example_moderation.csv     lm(change ~ W) within mentees, the three planted cells
#   example_conditional.csv    conditional effects (predicted change) at the probe values
#   example_did_multilevel.csv lmer(score ~ condition * wave + (1 | school) + (1 | school:class)
#                              + (1 | school:class:wave) + (1 | student), REML): DiD contrasts
#                              with Kenward-Roger (pbkrtest, via emmeans) and Satterthwaite
#                              (lmerTest, via emmeans) df, and the variance components
#   example_did_multilevel_mentor.csv  example_did_multilevel's model plus (0 + mentee_post | mentor_id): the
#                              example's primary model (section 7b)
#   example_icc.csv            T1 null model score ~ 1 + (1 | school) + (1 | school:class), REML
#   example_versions.json      R and package versions
suppressPackageStartupMessages({
  library(afex)
  library(lme4)
  library(emmeans)
  library(psych)
  library(jsonlite)
})
emm_options(lmer.df = "asymptotic")

study_dir <- file.path("mut_eval", "data", "example_study")
out <- function(name) file.path("tests", "reference", name)

# Full double precision in the CSV outputs.
write_full <- function(df, name) {
  for (nm in names(df)) {
    if (is.numeric(df[[nm]])) {
      df[[nm]] <- ifelse(is.na(df[[nm]]), NA, sprintf("%.17g", df[[nm]]))
    }
  }
  write.csv(df, out(name), row.names = FALSE, quote = FALSE, na = "")
}

waves <- c("T1", "T2", "T3")
read_raw <- function(f) {
  read.csv(file.path(study_dir, f), stringsAsFactors = FALSE, na.strings = c("", "NA"),
           check.names = FALSE, colClasses = c(student_id = "character"))
}

# ---------------------------------------------------------------------------
# 1. The codebook (contract section 2) and scoring
# ---------------------------------------------------------------------------
items_of <- function(prefix, k) sprintf("%s%02d", prefix, seq_len(k))
codebook <- list(
  self_efficacy         = list(items = items_of("SE", 9),  reverse = character(), waves = waves),
  intrinsic_motivation  = list(items = items_of("IM", 4),  reverse = character(), waves = waves),
  extrinsic_motivation  = list(items = items_of("EM", 4),  reverse = character(), waves = waves),
  school_belonging      = list(items = items_of("SB", 18),
                               reverse = c("SB03", "SB06", "SB09", "SB12", "SB16"), waves = waves),
  help_seeking_academic = list(items = items_of("HA", 6),  reverse = c("HA05", "HA06"), waves = waves),
  help_seeking_network  = list(items = items_of("NO", 10),
                               reverse = c("NO02", "NO04", "NO07", "NO09"), waves = waves),
  relationship_quality  = list(items = items_of("RQ", 8),  reverse = c("RQ04", "RQ08"), waves = "T2",
                               mentees_only = TRUE)
)
outcomes <- names(codebook)[1:6]
MIN_ANSWERED <- 0.75

students <- read_raw("students.csv")
stopifnot(!anyDuplicated(students$student_id),
          all(students$condition %in% c("mentee", "control")))
cond_of <- setNames(students$condition, students$student_id)

wave_data <- lapply(setNames(waves, waves), function(w) {
  d <- read_raw(sprintf("wave_%s.csv", w))
  stopifnot(!anyDuplicated(d$student_id), all(d$student_id %in% students$student_id))
  d
})

# The reverse-coded answers (6 - x) of one scale in one wave; rows = the wave's rows.
coded_items <- function(w, scale) {
  d <- wave_data[[w]]
  s <- codebook[[scale]]
  x <- as.matrix(d[, s$items])
  storage.mode(x) <- "double"
  stopifnot(all(is.na(x) | x %in% 1:5))
  rev <- s$items %in% s$reverse
  x[, rev] <- 6 - x[, rev]
  rownames(x) <- d$student_id
  if (isTRUE(s$mentees_only)) x <- x[cond_of[rownames(x)] == "mentee", , drop = FALSE]
  x
}

# Scale score: the mean of the answered items when at least 75% of the items are
# answered (9 items -> 7, 4 -> 3, 18 -> 14, 6 -> 5, 10 -> 8, 8 -> 6), else missing.
score_scale <- function(x) {
  answered <- rowSums(!is.na(x))
  need <- ceiling(MIN_ANSWERED * ncol(x))
  ifelse(answered >= need, rowMeans(x, na.rm = TRUE), NA_real_)
}

long_rows <- list()
for (o in outcomes) for (w in waves) {
  sc <- score_scale(coded_items(w, o))
  sc <- sc[!is.na(sc)]
  long_rows[[length(long_rows) + 1]] <- data.frame(
    student_id = names(sc), condition = unname(cond_of[names(sc)]), wave = w,
    outcome = o, score = unname(sc), stringsAsFactors = FALSE)
}
long <- do.call(rbind, long_rows)
rq <- score_scale(coded_items("T2", "relationship_quality"))
rq <- rq[!is.na(rq)]

completer_ids <- function(o) {
  d <- long[long$outcome == o, ]
  k <- tapply(d$wave, d$student_id, function(v) length(unique(v)))
  names(k)[k == length(waves)]
}

# ---------------------------------------------------------------------------
# 2. Descriptives
# ---------------------------------------------------------------------------
desc_rows <- list()
for (o in outcomes) {
  comp <- completer_ids(o)
  for (smp in c("completers", "available")) {
    d <- long[long$outcome == o, ]
    if (smp == "completers") d <- d[d$student_id %in% comp, ]
    for (cc in c("mentee", "control")) for (w in waves) {
      y <- d$score[d$condition == cc & d$wave == w]
      desc_rows[[length(desc_rows) + 1]] <- data.frame(
        outcome = o, sample = smp, condition = cc, wave = w, n = length(y),
        mean = mean(y), sd = sd(y))
    }
  }
}
write_full(do.call(rbind, desc_rows), "example_descriptives.csv")

# ---------------------------------------------------------------------------
# 3. Mixed ANOVA (afex / car, Type III) on the completers
# ---------------------------------------------------------------------------
anova_rows <- list()
for (o in outcomes) {
  d <- long[long$outcome == o & long$student_id %in% completer_ids(o), ]
  d$condition <- factor(d$condition, levels = c("control", "mentee"))
  d$wave <- factor(d$wave, levels = waves)
  a <- suppressWarnings(suppressMessages(
    aov_ez(id = "student_id", dv = "score", data = d, between = "condition",
           within = "wave", type = 3)))
  s <- summary(a$Anova, multivariate = FALSE)
  uni <- unclass(s$univariate.tests)
  es <- anova(a, es = c("pes", "ges"), correction = "none")
  for (src in c("condition", "wave", "condition:wave")) {
    within <- src != "condition"
    anova_rows[[length(anova_rows) + 1]] <- data.frame(
      outcome = o, source = src,
      ss = uni[src, "Sum Sq"], df1 = uni[src, "num Df"], df2 = uni[src, "den Df"],
      F = uni[src, "F value"], p_unc = uni[src, "Pr(>F)"], error_ss = uni[src, "Error SS"],
      eps_gg = if (within) s$pval.adjustments[src, "GG eps"] else NA,
      p_gg = if (within) s$pval.adjustments[src, "Pr(>F[GG])"] else NA,
      eps_hf = if (within) s$pval.adjustments[src, "HF eps"] else NA,
      p_hf = if (within) s$pval.adjustments[src, "Pr(>F[HF])"] else NA,
      mauchly_w = if (within) s$sphericity.tests[src, "Test statistic"] else NA,
      mauchly_p = if (within) s$sphericity.tests[src, "p-value"] else NA,
      np2 = es[src, "pes"], ng2 = es[src, "ges"],
      n_subjects = length(unique(d$student_id)))
  }
}
write_full(do.call(rbind, anova_rows), "example_anova.csv")

# ---------------------------------------------------------------------------
# 4. Linear mixed model on all available scores, EMMs, DiD contrasts
# ---------------------------------------------------------------------------
ctrl <- lmerControl(optimizer = "bobyqa",
                    optCtrl = list(rhobeg = 0.2, rhoend = 1e-12, maxfun = 1e5))
term_name <- function(x) {
  x <- gsub("\\(Intercept\\)", "Intercept", x)
  x <- gsub("conditionmentee", "condition[T.mentee]", x)
  gsub("waveT([23])", "wave[T.T\\1]", x)
}
did_vectors <- function(grid) {
  cell <- function(c, w) as.numeric(grid$condition == c & grid$wave == w)
  dd <- function(a, b) cell("mentee", b) - cell("mentee", a) - cell("control", b) + cell("control", a)
  list(`T2-T1` = dd("T1", "T2"), `T3-T1` = dd("T1", "T3"), `T3-T2` = dd("T2", "T3"))
}
fixed_rows <- list(); emm_rows <- list(); did_rows <- list()
for (o in outcomes) {
  d <- long[long$outcome == o, ]
  d$condition <- factor(d$condition, levels = c("control", "mentee"))
  d$wave <- factor(d$wave, levels = waves)
  m <- lmer(score ~ condition * wave + (1 | student_id), data = d, REML = TRUE, control = ctrl)
  vc <- as.data.frame(VarCorr(m))
  # afex attaches lmerTest, whose summary has df and t columns: take estimate and SE by
  # name and form the Wald z (asymptotic, as the emmeans contrasts) here.
  cf <- summary(m)$coefficients
  z <- cf[, "Estimate"] / cf[, "Std. Error"]
  fixed_rows[[length(fixed_rows) + 1]] <- data.frame(
    outcome = o, term = term_name(rownames(cf)), estimate = cf[, "Estimate"],
    se = cf[, "Std. Error"], z = z, p = 2 * pnorm(-abs(z)),
    sigma2_student = vc$vcov[vc$grp == "student_id"], sigma2_resid = vc$vcov[vc$grp == "Residual"],
    n_students = unname(ngrps(m)), n_obs = nobs(m), reml_criterion = unname(REMLcrit(m)))
  emm <- emmeans(m, ~ condition * wave)
  es <- as.data.frame(summary(emm, infer = TRUE))
  emm_rows[[length(emm_rows) + 1]] <- data.frame(
    outcome = o, condition = as.character(es$condition), wave = as.character(es$wave),
    emm = es$emmean, se = es$SE, ci_low = es$asymp.LCL, ci_high = es$asymp.UCL)
  cs <- as.data.frame(summary(contrast(emm, method = did_vectors(as.data.frame(emm))),
                              infer = TRUE))
  did_rows[[length(did_rows) + 1]] <- data.frame(
    outcome = o, contrast = as.character(cs$contrast), estimate = cs$estimate, se = cs$SE,
    z = cs$z.ratio, p = cs$p.value, ci_low = cs$asymp.LCL, ci_high = cs$asymp.UCL)
}
write_full(do.call(rbind, fixed_rows), "example_lmm_fixed.csv")
write_full(do.call(rbind, emm_rows), "example_lmm_emm.csv")
write_full(do.call(rbind, did_rows), "example_did.csv")

# ---------------------------------------------------------------------------
# 5. Reliability: Cronbach's alpha (psych) on the reverse-coded items, listwise
# ---------------------------------------------------------------------------
rel_rows <- list()
for (sc in names(codebook)) for (w in codebook[[sc]]$waves) {
  x <- coded_items(w, sc)
  x <- x[stats::complete.cases(x), , drop = FALSE]
  a <- suppressWarnings(suppressMessages(psych::alpha(as.data.frame(x), check.keys = FALSE,
                                                      warnings = FALSE)))
  rel_rows[[length(rel_rows) + 1]] <- data.frame(
    scale = sc, wave = w, n = nrow(x), n_items = ncol(x), alpha = a$total$raw_alpha,
    std_alpha = a$total$std.alpha)
}
write_full(do.call(rbind, rel_rows), "example_reliability.csv")

# ---------------------------------------------------------------------------
# 6. Moderation of change within mentees (the planted cells)
# ---------------------------------------------------------------------------
mentees <- students[students$condition == "mentee", ]
score_of <- function(o, w) {
  d <- long[long$outcome == o & long$wave == w, ]
  setNames(d$score, d$student_id)[mentees$student_id]
}
change_of <- function(o, later, earlier) unname(score_of(o, later) - score_of(o, earlier))

# same_gender: mentee gender == gender of the matched mentor; missing when either is
# unknown (or the mentee has no mentor).
matches <- read_raw("matches.csv")
mentors <- read.csv(file.path(study_dir, "mentors.csv"), stringsAsFactors = FALSE,
                    na.strings = c("", "NA"))
mentor_of <- setNames(matches$mentor_id, matches$student_id)[mentees$student_id]
g_pupil <- mentees$gender
g_mentor <- setNames(mentors$gender, mentors$mentor_id)[mentor_of]
known <- function(v) !is.na(v) & !(v %in% c("unknown", ""))
same_gender <- ifelse(known(g_pupil) & known(g_mentor),
                      ifelse(g_pupil == g_mentor, "yes", "no"), NA)

cells <- list(
  list(outcome = "school_belonging", change = "T3-T1", moderator = "age",
       w = as.numeric(mentees$age)),
  list(outcome = "extrinsic_motivation", change = "T2-T1", moderator = "relationship_quality",
       w = unname(rq[mentees$student_id])),
  list(outcome = "intrinsic_motivation", change = "T2-T1", moderator = "same_gender",
       w = same_gender)
)
mod_rows <- list(); ce_rows <- list()
for (cell in cells) {
  ww <- strsplit(cell$change, "-")[[1]]
  d <- data.frame(change = change_of(cell$outcome, ww[1], ww[2]), W = cell$w)
  d <- d[stats::complete.cases(d), ]
  categorical <- is.character(d$W)
  if (categorical) d$W <- factor(d$W, levels = c("no", "yes"))
  fit <- lm(change ~ W, data = d)
  ct <- summary(fit)$coefficients
  ci <- confint(fit, level = 0.95)
  term <- rownames(ct)[2]
  mod_rows[[length(mod_rows) + 1]] <- data.frame(
    outcome = cell$outcome, change = cell$change, moderator = cell$moderator,
    level = if (categorical) "yes" else NA, reference = if (categorical) "no" else NA,
    n = nrow(d), b = ct[term, 1], se = ct[term, 2], t = ct[term, 3], p = ct[term, 4],
    ci_low = ci[term, 1], ci_high = ci[term, 2], r2 = summary(fit)$r.squared,
    df = fit$df.residual, intercept = ct[1, 1], w_mean = if (categorical) NA else mean(d$W),
    w_sd = if (categorical) NA else sd(d$W))
  # Conditional effect of time (the predicted change) at the probe values.
  if (categorical) {
    nd <- data.frame(W = factor(c("no", "yes"), levels = c("no", "yes")))
    probe <- c("no", "yes"); wv <- c(NA, NA)
  } else {
    m <- mean(d$W); s <- sd(d$W)                  # SD with n - 1, over the cases in the model
    wv <- c(m - s, m, m + s); probe <- c("M-1SD", "M", "M+1SD")
    nd <- data.frame(W = wv)
  }
  pr <- predict(fit, newdata = nd, se.fit = TRUE)
  tcrit <- qt(0.975, fit$df.residual)
  tv <- pr$fit / pr$se.fit
  ce_rows[[length(ce_rows) + 1]] <- data.frame(
    outcome = cell$outcome, change = cell$change, moderator = cell$moderator,
    probe = probe, w = wv, effect = unname(pr$fit), se = unname(pr$se.fit), t = unname(tv),
    p = unname(2 * pt(-abs(tv), fit$df.residual)),
    ci_low = unname(pr$fit - tcrit * pr$se.fit), ci_high = unname(pr$fit + tcrit * pr$se.fit),
    n_level = if (categorical) as.vector(table(d$W)) else NA)
}
write_full(do.call(rbind, mod_rows), "example_moderation.csv")
write_full(do.call(rbind, ce_rows), "example_conditional.csv")

# ---------------------------------------------------------------------------
# 7. Multilevel model (classes assigned to the conditions): DiD with Kenward-Roger and
#    Satterthwaite df, and the T1 ICC null model. Class ids are unique only within a
#    school, so classes are school:class throughout.
# ---------------------------------------------------------------------------
emm_options(pbkrtest.limit = 1e5, lmerTest.limit = 1e5)
school_of <- setNames(students$school, students$student_id)
class_of <- setNames(students$class, students$student_id)
long$school <- unname(school_of[long$student_id])
long$class <- unname(class_of[long$student_id])
vc_of <- function(m, grp) {
  vc <- as.data.frame(VarCorr(m))
  v <- vc$vcov[vc$grp == grp & is.na(vc$var2)]
  if (length(v) == 1) v else NA_real_
}
# The DiD contrasts of a fitted lmer with the df method of emmeans (lmer.df)
did_contrasts <- function(m, df_method) {
  dv <- did_vectors(as.data.frame(emmeans(m, ~ condition * wave, lmer.df = "asymptotic")))
  as.data.frame(summary(contrast(emmeans(m, ~ condition * wave, lmer.df = df_method), method = dv),
                        infer = TRUE))
}
ml_rows <- list(); icc_rows <- list()
for (o in outcomes) {
  d <- long[long$outcome == o, ]
  d$condition <- factor(d$condition, levels = c("control", "mentee"))
  d$wave <- factor(d$wave, levels = waves)
  d$school <- factor(d$school)
  d$class <- factor(d$class)
  m <- lmer(score ~ condition * wave + (1 | school) + (1 | school:class) +
              (1 | school:class:wave) + (1 | student_id),
            data = d, REML = TRUE, control = ctrl)
  kr <- did_contrasts(m, "kenward-roger")
  sa <- did_contrasts(m, "satterthwaite")
  stopifnot(identical(as.character(kr$contrast), as.character(sa$contrast)))
  ml_rows[[length(ml_rows) + 1]] <- data.frame(
    outcome = o, contrast = as.character(kr$contrast), estimate = kr$estimate,
    se_kr = kr$SE, df_kr = kr$df, t_kr = kr$t.ratio, p_kr = kr$p.value,
    ci_low_kr = kr$lower.CL, ci_high_kr = kr$upper.CL,
    se = sa$SE, df_satterthwaite = sa$df, t_satterthwaite = sa$t.ratio,
    p_satterthwaite = sa$p.value, ci_low_satterthwaite = sa$lower.CL,
    ci_high_satterthwaite = sa$upper.CL,
    var_school = vc_of(m, "school"), var_class = vc_of(m, "school:class"),
    var_class_wave = vc_of(m, "school:class:wave"), var_student = vc_of(m, "student_id"),
    var_resid = vc_of(m, "Residual"), reml_criterion = unname(REMLcrit(m)),
    loglik = as.numeric(logLik(m)), n_obs = nobs(m),
    n_students = unname(ngrps(m)["student_id"]), n_classes = unname(ngrps(m)["school:class"]),
    n_schools = unname(ngrps(m)["school"]), singular = isSingular(m))
  # ICC null model at T1, all pupils scored at T1
  d1 <- d[d$wave == "T1", ]
  m0 <- lmer(score ~ 1 + (1 | school) + (1 | school:class), data = d1, REML = TRUE,
             control = ctrl)
  vs <- vc_of(m0, "school"); vcl <- vc_of(m0, "school:class"); vr <- vc_of(m0, "Residual")
  icc_rows[[length(icc_rows) + 1]] <- data.frame(
    outcome = o, var_school = vs, var_class = vcl, var_resid = vr,
    icc_class = (vs + vcl) / (vs + vcl + vr), icc_school = vs / (vs + vcl + vr),
    intercept = unname(fixef(m0)[1]), reml_criterion = unname(REMLcrit(m0)),
    n = nobs(m0), n_classes = unname(ngrps(m0)["school:class"]),
    n_schools = unname(ngrps(m0)["school"]), singular = isSingular(m0))
}
write_full(do.call(rbind, ml_rows), "example_did_multilevel.csv")
write_full(do.call(rbind, icc_rows), "example_icc.csv")

# ---------------------------------------------------------------------------
# 7b. The primary model of the example as mut_eval resolves its design (classes each hold
#     one condition; mentors with two or more mentees): section 7's model plus the
#     partially nested mentor-group term (Bauer, Sterba & Hallfors 2008),
#     (0 + mentee_post | mentor_id), mentee_post = 1 for a mentee with a mentor at T2/T3;
#     controls carry the mentor level "(no mentor)", whose column is all zero.
# ---------------------------------------------------------------------------
mentor_all <- setNames(as.character(matches$mentor_id), matches$student_id)
mg_rows <- list()
for (o in outcomes) {
  d <- long[long$outcome == o, ]
  d$condition <- factor(d$condition, levels = c("control", "mentee"))
  d$wave <- factor(d$wave, levels = waves)
  mid <- unname(mentor_all[d$student_id])
  d$mentor_id <- ifelse(d$condition == "mentee" & !is.na(mid), mid, "(no mentor)")
  d$mentee_post <- as.numeric(d$condition == "mentee" & d$wave != "T1" & d$mentor_id != "(no mentor)")
  m <- lmer(score ~ condition * wave + (1 | school) + (1 | school:class) +
              (1 | school:class:wave) + (1 | student_id) + (0 + mentee_post | mentor_id),
            data = d, REML = TRUE, control = ctrl)
  kr <- did_contrasts(m, "kenward-roger")
  sa <- did_contrasts(m, "satterthwaite")
  mg_rows[[length(mg_rows) + 1]] <- data.frame(
    outcome = o, contrast = as.character(kr$contrast), estimate = kr$estimate,
    se_kr = kr$SE, df_kr = kr$df, p_kr = kr$p.value, ci_low_kr = kr$lower.CL, ci_high_kr = kr$upper.CL,
    se = sa$SE, df_satterthwaite = sa$df, p_satterthwaite = sa$p.value,
    var_mentor = vc_of(m, "mentor_id"), loglik = as.numeric(logLik(m)), singular = isSingular(m))
}
write_full(do.call(rbind, mg_rows), "example_did_multilevel_mentor.csv")

# ---------------------------------------------------------------------------
# 8. Versions
# ---------------------------------------------------------------------------
pk <- c("afex", "car", "lme4", "Matrix", "emmeans", "pbkrtest", "lmerTest", "psych", "jsonlite")
write_json(c(list(R = R.version.string),
             setNames(lapply(pk, function(p) as.character(packageVersion(p))), pk)),
           out("example_versions.json"), auto_unbox = TRUE, pretty = TRUE)
