# Reference values for tests/test_moderation.py (mut_eval.stats.moderation).
#
#   Rscript tests/reference/moderation_reference.R      (from the repository root)
#
# Reads moderation_data.csv, moderation_did_long.csv, moderation_bh_p.csv (written by
# moderation_make_data.py) and writes moderation_reference.json. Everything here is
# computed with base R lm(), sandwich::vcovHC(), lme4::lmer() + emmeans, p.adjust();
# percentiles, Johnson-Neyman points and the PROCESS JN table are computed from their
# published definitions, independently of the Python code.
suppressPackageStartupMessages({
  library(sandwich); library(jsonlite); library(lme4); library(emmeans)
})
here <- "tests/reference"
d <- read.csv(file.path(here, "moderation_data.csv"), stringsAsFactors = FALSE)
alpha <- 0.05

vc <- function(m, type) if (type == "OLS") vcov(m) else vcovHC(m, type = type)

lincomb <- function(m, V, L) {
  b <- coef(m); df <- df.residual(m)
  est <- as.numeric(L %*% b); se <- sqrt(diag(L %*% V %*% t(L)))
  t <- est / se; p <- 2 * pt(-abs(t), df); tc <- qt(1 - alpha / 2, df)
  list(effect = est, se = se, t = t, p = p, ci_low = est - tc * se, ci_high = est + tc * se)
}

# PROCESS 4.3 (process.describ3): j = trunc(p(n+1)); x(j) + (x(j+1)-x(j))*(p(n+1)-j)
process_pct <- function(x, p = c(.16, .5, .84)) {
  xs <- sort(x); n <- length(xs)
  sapply(p, function(pp) { h <- pp * (n + 1); j <- trunc(h); xs[j] + (xs[j + 1] - xs[j]) * (h - j) })
}

jn_roots <- function(m, V, w) {
  b <- coef(m); df <- df.residual(m); t2 <- qt(1 - alpha / 2, df)^2
  a <- b[2]^2 - t2 * V[2, 2]; bb <- 2 * (b[1] * b[2] - t2 * V[1, 2]); cc <- b[1]^2 - t2 * V[1, 1]
  disc <- bb^2 - 4 * a * cc
  r <- if (disc < 0) numeric(0) else sort(c((-bb - sqrt(disc)) / (2 * a), (-bb + sqrt(disc)) / (2 * a)))
  r <- r[r > min(w) & r < max(w)]
  # independent check: the t statistic equals the critical value at each root (uniroot)
  tfun <- function(x) { L <- c(1, x); abs(sum(L * b)) / sqrt(drop(t(L) %*% V %*% L)) - sqrt(t2) }
  for (x in r) {
    u <- uniroot(tfun, c(x - 0.05, x + 0.05), tol = 1e-14)$root
    stopifnot(abs(u - x) < 1e-8)
  }
  unname(r)
}

continuous_case <- function(yname, type) {
  w <- d$w_cont; m <- lm(d[[yname]] ~ w); V <- vc(m, type)
  s <- summary(m); b <- coef(m); df <- df.residual(m)
  se <- sqrt(diag(V)); t <- b / se; p <- 2 * pt(-abs(t), df); tc <- qt(1 - alpha / 2, df)
  Fw <- unname(b[2]^2 / V[2, 2])
  mo <- c(mean(w) - sd(w), mean(w), mean(w) + sd(w))
  pc <- process_pct(w)
  stopifnot(max(abs(pc - quantile(w, c(.16, .5, .84), type = 6))) < 1e-12)
  roots <- jn_roots(m, V, w)
  nr <- length(roots); k <- 22 - nr
  grid <- min(w) + (0:(k - 1)) * (max(w) - min(w)) / (k - 1)
  grid[k] <- max(w)
  tab_w <- sort(c(grid, roots))
  list(
    n = length(w), b = unname(b), se = unname(se), t = unname(t), p = unname(p),
    ci_low = unname(b - tc * se), ci_high = unname(b + tc * se), r2 = s$r.squared,
    F = Fw, df1 = 1, df2 = df, p_F = pf(Fw, 1, df, lower.tail = FALSE),
    F_lm = unname(s$fstatistic[1]),
    moments_w = mo, moments = lincomb(m, V, cbind(1, mo)),
    percentiles_w = pc, percentiles = lincomb(m, V, cbind(1, pc)),
    jn = list(w = roots, pct_below = sapply(roots, function(r) 100 * mean(w < r)),
              pct_above = sapply(roots, function(r) 100 * mean(w > r))),
    jn_table = c(list(w = tab_w), lincomb(m, V, cbind(1, tab_w)))
  )
}

dich_case <- function(type) {
  w <- d$w_dich; m <- lm(d$y_dich ~ w); V <- vc(m, type); b <- coef(m); df <- df.residual(m)
  se <- sqrt(diag(V)); tc <- qt(1 - alpha / 2, df)
  list(n = length(w), b = unname(b), se = unname(se), t = unname(b / se),
       p = unname(2 * pt(-abs(b / se), df)), ci_low = unname(b - tc * se), ci_high = unname(b + tc * se),
       r2 = summary(m)$r.squared, F = unname(b[2]^2 / V[2, 2]), df2 = df,
       probe_w = c(0, 1), probes = lincomb(m, V, cbind(1, c(0, 1))))
}

cat_case <- function(type) {
  f <- factor(d$w_cat, levels = c("low", "middle", "high"))
  m <- lm(d$y_cat ~ f); V <- vc(m, type); b <- coef(m); df <- df.residual(m)
  se <- sqrt(diag(V)); tc <- qt(1 - alpha / 2, df)
  L <- rbind(c(0, 1, 0), c(0, 0, 1)); bw <- L %*% b
  Fw <- drop(t(bw) %*% solve(L %*% V %*% t(L)) %*% bw) / 2
  if (type == "OLS") stopifnot(abs(Fw - anova(lm(d$y_cat ~ 1), m)$F[2]) < 1e-10)
  list(n = length(f), b = unname(b), se = unname(se), t = unname(b / se),
       p = unname(2 * pt(-abs(b / se), df)), ci_low = unname(b - tc * se), ci_high = unname(b + tc * se),
       r2 = summary(m)$r.squared, F = Fw, df1 = 2, df2 = df, p_F = pf(Fw, 2, df, lower.tail = FALSE),
       levels = levels(f), n_level = as.numeric(table(f)),
       probes = lincomb(m, V, rbind(c(1, 0, 0), c(1, 1, 0), c(1, 0, 1))))
}

out <- list()
for (y in c("y_two", "y_one", "y_none")) for (type in c("OLS", "HC3"))
  out[[paste("cont", y, type, sep = "_")]] <- continuous_case(y, type)
for (type in c("HC0", "HC1", "HC2", "HC4"))
  out[[paste("cont", "y_two", type, sep = "_")]] <- continuous_case("y_two", type)
for (type in c("OLS", "HC3")) {
  out[[paste("dich", type, sep = "_")]] <- dich_case(type)
  out[[paste("cat", type, sep = "_")]] <- cat_case(type)
}

# ---- Benjamini-Hochberg
bh <- read.csv(file.path(here, "moderation_bh_p.csv"))
out$bh <- list(p = bh$p, p_bh = p.adjust(bh$p, "BH"))

# ---- condition x wave x W in the random-intercept model (REML), emmeans asymptotic
emm_options(lmer.df = "asymptotic")
long <- read.csv(file.path(here, "moderation_did_long.csv"), stringsAsFactors = FALSE)
long$condition <- factor(long$condition, levels = c("control", "mentee"))
long$wave <- factor(long$wave, levels = c("T1", "T2", "T3"))
# emmeans grid order: condition fastest, then wave
cons <- list(`T2-T1` = c(1, -1, -1, 1, 0, 0), `T3-T1` = c(1, -1, 0, 0, -1, 1),
             `T3-T2` = c(0, 0, 1, -1, -1, 1))
did_case <- function(m, byvar, at = NULL) {
  emm <- if (is.null(at)) emmeans(m, ~ condition * wave | W) else
    emmeans(m, ~ condition * wave | W, at = list(W = at))
  ct <- summary(contrast(emm, cons, by = "W"), infer = c(TRUE, TRUE))
  three <- grep("condition.*:wave.*:W", names(fixef(m)))
  b3 <- fixef(m)[three]; V3 <- as.matrix(vcov(m))[three, three]
  chi2 <- drop(t(b3) %*% solve(V3) %*% b3)
  list(W = as.character(ct$W), contrast = as.character(ct$contrast), estimate = ct$estimate,
       se = ct$SE, ci_low = ct$asymp.LCL, ci_high = ct$asymp.UCL, p = ct$p.value,
       chi2 = chi2, df = length(three), p_interaction = pchisq(chi2, length(three), lower.tail = FALSE),
       sigma2 = sigma(m)^2, tau = as.numeric(VarCorr(m)$student_id))
}
pupils <- long[!duplicated(long$student_id), ]
long$W <- long$age
m_age <- lmer(score ~ condition * wave * W + (1 | student_id), data = long, REML = TRUE)
at_age <- c(mean(pupils$age) - sd(pupils$age), mean(pupils$age), mean(pupils$age) + sd(pupils$age))
out$did_age <- c(did_case(m_age, "W", at_age), list(at = at_age))
long$W <- factor(long$ses, levels = c("low", "middle", "high"))
m_ses <- lmer(score ~ condition * wave * W + (1 | student_id), data = long, REML = TRUE)
out$did_ses <- did_case(m_ses, "W")

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(here, "moderation_reference.json"))
cat("wrote", file.path(here, "moderation_reference.json"), "\n")
