# Reference values for mut_eval.stats.mixed (issue 12 items 2, 3, 5, 12).
#
# Generates five seeded designs, writes each as tests/reference/mixed_<design>.csv and
# stores lme4 REML (and one ML) fits, lmerTest Satterthwaite and pbkrtest / emmeans
# Kenward-Roger inference for the difference-in-differences contrasts in
# tests/reference/mixed_reference.json.
#
#   cd tests/reference && Rscript mixed_reference.R
#
# Model for every design:  score ~ condition * wave + <random terms>
# with control and T1 the reference levels; the DiD contrasts are
#   T2-T1 = (mentee T2 - mentee T1) - (control T2 - control T1)   (likewise T3-T1, T3-T2)
# taken from emmeans(m, ~ condition * wave) with lmer.df = "satterthwaite" (lmerTest)
# and lmer.df = "kenward-roger" (pbkrtest::vcovAdj + Lb_ddf).
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest); library(emmeans); library(jsonlite)
})
emm_options(pbkrtest.limit = Inf, lmerTest.limit = Inf)
waves <- c("T1", "T2", "T3")

# pupils in classes in schools; classes assigned to one condition; class x wave effects
gen_classes <- function(seed, schools, sizes, mentee_class, sd_school, sd_class,
                        sd_cw, sd_pupil, sd_e, p_missing = 0) {
  set.seed(seed)
  rows <- list(); pid <- 0
  for (k in seq_along(sizes)) {
    s <- schools[k]; cls <- paste0("c", k %% 3 + 1)   # class names repeat across schools
    cond <- if (mentee_class[k]) "mentee" else "control"
    u_s <- attr(schools, "eff")[s]; u_c <- rnorm(1, 0, sd_class)
    u_cw <- rnorm(3, 0, sd_cw)
    for (i in seq_len(sizes[k])) {
      pid <- pid + 1; u_p <- rnorm(1, 0, sd_pupil)
      for (w in 1:3) {
        mu <- 3 + 0.1 * (w - 1) + (cond == "mentee") * 0.15 * (w > 1)
        rows[[length(rows) + 1]] <- data.frame(
          student_id = sprintf("P%04d", pid), school = s, class = cls,
          condition = cond, wave = waves[w],
          score = round(mu + u_s + u_c + u_cw[w] + u_p + rnorm(1, 0, sd_e), 6))
      }
    }
  }
  d <- do.call(rbind, rows)
  if (p_missing > 0) d <- d[!(d$wave != "T1" & runif(nrow(d)) < p_missing), ]
  d
}
school_effects <- function(seed, names, sd) {
  set.seed(seed); x <- names; attr(x, "eff") <- setNames(rnorm(length(names), 0, sd), names); x
}

designs <- list()

# (1) nested: 10 classes in 4 schools, class x wave clustering of change
sch <- school_effects(11, paste0("s", 1:4), 0.25)
sch1 <- sch[c(1, 1, 1, 2, 2, 3, 3, 3, 4, 4)]; attr(sch1, "eff") <- attr(sch, "eff")
d1 <- gen_classes(101, sch1, c(14, 12, 16, 11, 15, 13, 12, 17, 10, 14),
                  c(TRUE, FALSE, TRUE, TRUE, FALSE, TRUE, FALSE, TRUE, FALSE, TRUE),
                  0.25, 0.3, 0.2, 0.6, 0.5)
designs$nested <- list(data = d1,
  random = "(1 | school) + (1 | school:class) + (1 | school:class:wave) + (1 | student_id)")

# (2) crossed: classes crossed with neighbourhoods (pupil's district), plus pupils
set.seed(202)
np2 <- 150
pup <- data.frame(student_id = sprintf("Q%04d", 1:np2),
                  class = sample(paste0("k", 1:8), np2, TRUE),
                  district = sample(paste0("d", 1:6), np2, TRUE))
pup$condition <- ifelse(pup$class %in% paste0("k", 1:4), "mentee", "control")
uc <- setNames(rnorm(8, 0, 0.35), paste0("k", 1:8)); ud <- setNames(rnorm(6, 0, 0.3), paste0("d", 1:6))
up <- rnorm(np2, 0, 0.6)
d2 <- do.call(rbind, lapply(1:3, function(w) data.frame(pup, wave = waves[w],
  score = round(3 + 0.1 * (w - 1) + (pup$condition == "mentee") * 0.1 * (w > 1) +
                uc[pup$class] + ud[pup$district] + up + rnorm(np2, 0, 0.5), 6))))
rownames(d2) <- NULL
designs$crossed <- list(data = d2, random = "(1 | class) + (1 | district) + (1 | student_id)")

# (3) few clusters of unequal size: 6 classes in one school
sch3 <- school_effects(31, "s1", 0); sch3 <- sch3[rep(1, 6)]; attr(sch3, "eff") <- c(s1 = 0)
d3 <- gen_classes(303, sch3, c(4, 8, 25, 6, 30, 12), c(TRUE, FALSE, TRUE, FALSE, TRUE, FALSE),
                  0, 0.3, 0.25, 0.6, 0.5)
d3$class <- paste0("k", match(paste(d3$school, d3$class, d3$condition),
                             unique(paste(d3$school, d3$class, d3$condition))))
designs$few_clusters <- list(data = d3,
  random = "(1 | class) + (1 | class:wave) + (1 | student_id)")

# (4) partially nested: mentees meet in mentor groups (duos/trios) after T1
set.seed(404)
d4 <- gen_classes(404, sch1, c(14, 12, 16, 11, 15, 13, 12, 17, 10, 14),
                  c(TRUE, FALSE, TRUE, TRUE, FALSE, TRUE, FALSE, TRUE, FALSE, TRUE),
                  0.2, 0.3, 0, 0.6, 0.5)
pupils <- unique(d4[, c("student_id", "condition")])
mentees <- pupils$student_id[pupils$condition == "mentee"]
grp <- rep(seq_len(ceiling(length(mentees) / 2.5)), length.out = length(mentees))
mentor <- setNames(sprintf("m%03d", sample(grp)), mentees)
um <- rnorm(length(unique(mentor)), 0, 0.4); names(um) <- sort(unique(mentor))
d4$mentor_id <- ifelse(d4$condition == "mentee", mentor[d4$student_id], "none")
d4$mentee_post <- as.numeric(d4$condition == "mentee" & d4$wave != "T1")
d4$score <- round(d4$score + d4$mentee_post * ifelse(d4$mentor_id == "none", 0, um[d4$mentor_id]), 6)
designs$mentor_groups <- list(data = d4,
  random = "(1 | school:class) + (0 + mentee_post | mentor_id) + (1 | student_id)")

# (5) missing waves: design (1) with 25% of later-wave scores missing
sch5 <- sch1
d5 <- gen_classes(505, sch5, c(14, 12, 16, 11, 15, 13, 12, 17, 10, 14),
                  c(TRUE, FALSE, TRUE, TRUE, FALSE, TRUE, FALSE, TRUE, FALSE, TRUE),
                  0.25, 0.3, 0.2, 0.6, 0.5, p_missing = 0.25)
designs$missing_waves <- list(data = d5,
  random = "(1 | school) + (1 | school:class) + (1 | school:class:wave) + (1 | student_id)")

did_L <- list("T2-T1" = c(-1, 1, 0, 1, -1, 0), "T3-T1" = c(-1, 0, 1, 1, 0, -1),
              "T3-T2" = c(0, -1, 1, 0, 1, -1))  # over emmeans cells mentee/control x T1..T3

fit_one <- function(d, random, REML = TRUE) {
  d$condition <- factor(d$condition, levels = c("control", "mentee"))
  d$wave <- factor(d$wave, levels = waves)
  f <- as.formula(paste("score ~ condition * wave +", random))
  m <- lmerTest::lmer(f, data = d, REML = REML,
                      control = lmerControl(optimizer = "bobyqa",
                                            optCtrl = list(rhobeg = 0.2, rhoend = 1e-10)))
  vc <- as.data.frame(VarCorr(m))
  out <- list(random = random, reml = REML, n_obs = nobs(m),
              fixef_names = names(fixef(m)), fixef = unname(fixef(m)),
              vcov = unname(as.matrix(vcov(m))),
              varcomp = setNames(as.list(vc$vcov), ifelse(is.na(vc$var1) | vc$var1 == "(Intercept)",
                                                           vc$grp, paste(vc$var1, vc$grp, sep = "|"))),
              theta = unname(getME(m, "theta")),
              loglik = as.numeric(logLik(m)), deviance_crit = unname(m@devcomp$cmp[if (REML) "REML" else "dev"]),
              singular = isSingular(m))
  if (REML) {
    g <- emmeans(m, ~ condition * wave, lmer.df = "satterthwaite")
    # cells come control T1, mentee T1, control T2, ... : reorder did_L to that grid
    grid <- as.data.frame(g)[, c("condition", "wave")]
    Lc <- lapply(did_L, function(l) {
      names(l) <- c(paste("mentee", waves), paste("control", waves))
      unname(l[paste(grid$condition, grid$wave)])
    })
    cs <- as.data.frame(contrast(g, Lc))
    gk <- emmeans(m, ~ condition * wave, lmer.df = "kenward-roger")
    ck <- as.data.frame(contrast(gk, Lc))
    # the same contrasts straight from lmerTest and pbkrtest, on the coefficients
    X <- getME(m, "X")
    L0 <- matrix(0, 1, ncol(X), dimnames = list(NULL, colnames(X)))
    Lb <- list("T2-T1" = L0, "T3-T1" = L0, "T3-T2" = L0)
    Lb[["T2-T1"]][1, "conditionmentee:waveT2"] <- 1
    Lb[["T3-T1"]][1, "conditionmentee:waveT3"] <- 1
    Lb[["T3-T2"]][1, c("conditionmentee:waveT2", "conditionmentee:waveT3")] <- c(-1, 1)
    satt <- sapply(Lb, function(L) unlist(contest1D(m, L, ddf = "Satterthwaite")[c("Std. Error", "df")]))
    Va <- pbkrtest::vcovAdj(m)
    kr <- sapply(Lb, function(L) c(se = sqrt(drop(L %*% as.matrix(Va) %*% t(L))),
                                   df = pbkrtest::Lb_ddf(L, as.matrix(vcov(m)), Va)))
    out$did <- list(contrast = names(did_L), estimate = cs$estimate,
                    se_satterthwaite = cs$SE, df_satterthwaite = cs$df,
                    se_kr = ck$SE, df_kr = ck$df,
                    lmertest_se = unname(satt[1, ]), lmertest_df = unname(satt[2, ]),
                    pbkrtest_se = unname(kr[1, ]), pbkrtest_df = unname(kr[2, ]))
  }
  out
}

ref <- list()
for (nm in names(designs)) {
  write.csv(designs[[nm]]$data, sprintf("mixed_%s.csv", nm), row.names = FALSE)
  d <- read.csv(sprintf("mixed_%s.csv", nm))       # fit what Python reads
  ref[[nm]] <- fit_one(d, designs[[nm]]$random)
}
ref$nested_ml <- fit_one(read.csv("mixed_nested.csv"), designs$nested$random, REML = FALSE)

# ICC null model at T1 (item 5): score ~ 1 + (1 | school) + (1 | school:class)
d1t1 <- subset(read.csv("mixed_nested.csv"), wave == "T1")
m0 <- lmer(score ~ 1 + (1 | school) + (1 | school:class), data = d1t1, REML = TRUE,
           control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10)))
vc0 <- as.data.frame(VarCorr(m0))
ref$icc_nested_t1 <- list(var_school = vc0$vcov[vc0$grp == "school"],
                          var_class = vc0$vcov[vc0$grp == "school:class"],
                          var_resid = vc0$vcov[vc0$grp == "Residual"],
                          loglik = as.numeric(logLik(m0)), n = nrow(d1t1))
ref$versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                     lmerTest = as.character(packageVersion("lmerTest")),
                     pbkrtest = as.character(packageVersion("pbkrtest")),
                     emmeans = as.character(packageVersion("emmeans")))
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), "mixed_reference.json")
