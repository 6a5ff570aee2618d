# Reference values for mut_eval.stats.mmrm (issue 12 item 2: design.residual: unstructured).
#
#   cd tests/reference && Rscript mmrm_reference.R
#
# Needs nlme, MASS, numDeriv, jsonlite (Debian r-cran-*) and, for the cross-check, R mmrm
# (not packaged in Debian; the stored values used mmrm 0.3.18 built from its source with
# `R CMD INSTALL` against Debian's r-cran-tmb 1.9.2 / r-cran-rcppeigen). Without mmrm the
# script still writes every nlme-based value and the tests skip the mmrm comparison.
#
# Writes two seeded data sets (mmrm_classes.csv: 8 classes, mmrm_schools.csv: 10 classes
# in 5 schools; missing waves in both) and tests/reference/mmrm_reference.json with, per
# design:
#   - the nlme REML fit: beta, vcov(beta), Sigma (3 x 3 within-pupil covariance),
#     random-term variances, logLik;
#   - Kenward-Roger (linear: V linear in psi = (Sigma_st for s <= t, sigma_k^2), so no
#     second-derivative term; W = 2 H^-1 with H the observed Hessian of -2 logLik_R) and
#     Satterthwaite df and SEs for the DiD contrasts, computed below in plain R matrix
#     algebra from nlme's estimates; H is taken by numDeriv from the dense REML
#     criterion written out here, and checked against the analytic
#     H_ij = -tr(P G_i P G_j) + 2 r'V^-1 G_i P G_j V^-1 r;
#   - for the designs without random terms also R mmrm's own fit and tests
#     (method = "Kenward-Roger", vcov = "Kenward-Roger-Linear" and "Kenward-Roger",
#     method = "Satterthwaite"), which cross-check the matrix algebra above.
#
# Designs (score ~ condition * wave [+ age], control and T1 the reference levels):
#   gls_missing    no random terms                nlme::gls corSymm + varIdent
#   gls_covariate  + age                          nlme::gls
#   lme_class      + (1 | class)                  nlme::lme random = ~ 1 | klass
#   lme_nested     + age + (1 | school) + (1 | school:class)   random = ~ 1 | school/klass
suppressPackageStartupMessages({
  library(nlme); library(MASS); library(numDeriv); library(jsonlite)
})
have_mmrm <- requireNamespace("mmrm", quietly = TRUE)
waves <- c("T1", "T2", "T3")
sd_w <- c(1.0, 1.1, 1.25)
cor_w <- matrix(c(1, .70, .55, .70, 1, .75, .55, .75, 1), 3)
Sigma_true <- diag(sd_w) %*% cor_w %*% diag(sd_w)

gen <- function(seed, class_school, mentee, sd_class, sd_school, p_miss) {
  set.seed(seed)
  u_s <- rnorm(max(class_school), 0, sd_school)
  rows <- list(); pid <- 0
  for (k in seq_along(class_school)) {
    u_c <- rnorm(1, 0, sd_class)
    cond <- if (mentee[k]) "mentee" else "control"
    for (i in seq_len(sample(20:30, 1))) {
      pid <- pid + 1
      e <- mvrnorm(1, rep(0, 3), Sigma_true)
      age <- round(rnorm(1, 13, 0.6), 2)
      keep <- c(runif(1) > 0.05, runif(2) > p_miss)
      for (w in which(keep)) {
        mu <- 3 + 0.1 * (w - 1) + (cond == "mentee") * 0.15 * (w > 1) + 0.2 * (age - 13)
        rows[[length(rows) + 1]] <- data.frame(
          student_id = sprintf("P%04d", pid), school = sprintf("s%d", class_school[k]),
          klass = sprintf("s%d_c%d", class_school[k], k), condition = cond,
          wave = waves[w], age = age,
          score = round(mu + u_s[class_school[k]] + u_c + e[w], 6))
      }
    }
  }
  do.call(rbind, rows)
}

d1 <- gen(2024, class_school = c(1, 1, 2, 2, 3, 3, 4, 4),
          mentee = c(TRUE, FALSE, TRUE, TRUE, TRUE, FALSE, TRUE, FALSE),
          sd_class = 0.4, sd_school = 0, p_miss = 0.15)
d2 <- gen(77, class_school = c(1, 1, 2, 2, 3, 3, 4, 4, 5, 5),
          mentee = c(TRUE, FALSE, TRUE, FALSE, TRUE, TRUE, TRUE, FALSE, TRUE, FALSE),
          sd_class = 0.35, sd_school = 0.4, p_miss = 0.2)
write.csv(d1, "mmrm_classes.csv", row.names = FALSE)
write.csv(d2, "mmrm_schools.csv", row.names = FALSE)
# read back, so the fits use exactly the stored numbers
prep <- function(f) {
  d <- read.csv(f, stringsAsFactors = FALSE)
  d$condition <- factor(d$condition, c("control", "mentee"))
  d$wave <- factor(d$wave, waves)
  d$widx <- as.integer(d$wave)
  d$student_id <- factor(d$student_id)
  d$klass <- factor(d$klass); d$school <- factor(d$school)
  d
}
d1 <- prep("mmrm_classes.csv"); d2 <- prep("mmrm_schools.csv")

# optim (BFGS) reaches the REML optimum more tightly than nlme's default nlminb here
# (|gradient| of -2 logLik_R ~ 1e-3 with nlminb; the reference stores the gradient)
ctrl_g <- glsControl(tolerance = 1e-12, msTol = 1e-14, maxIter = 1000, msMaxIter = 1000,
                     opt = "optim")
ctrl_l <- lmeControl(tolerance = 1e-12, msTol = 1e-14, maxIter = 1000, msMaxIter = 1000,
                     niterEM = 100, opt = "optim")

designs <- list(
  gls_missing = list(data = d1, fixed = score ~ condition * wave, random = NULL),
  gls_covariate = list(data = d1, fixed = score ~ condition * wave + age, random = NULL),
  lme_class = list(data = d1, fixed = score ~ condition * wave, random = "klass"),
  lme_nested = list(data = d2, fixed = score ~ condition * wave + age,
                    random = c("school", "klass")))

fit_nlme <- function(ds) {
  w <- varIdent(form = ~ 1 | wave)
  if (is.null(ds$random)) {
    gls(ds$fixed, data = ds$data, method = "REML", weights = w,
        correlation = corSymm(form = ~ widx | student_id), control = ctrl_g)
  } else if (length(ds$random) == 1) {
    lme(ds$fixed, data = ds$data, random = ~ 1 | klass, method = "REML", weights = w,
        correlation = corSymm(form = ~ widx | klass / student_id), control = ctrl_l)
  } else {
    lme(ds$fixed, data = ds$data, random = ~ 1 | school / klass, method = "REML",
        weights = w, correlation = corSymm(form = ~ widx | school / klass / student_id),
        control = ctrl_l)
  }
}

# Sigma from the corSymm correlations and the varIdent standard-deviation ratios
sigma_of <- function(m) {
  ms <- m$modelStruct
  rho <- coef(ms$corStruct, unconstrained = FALSE)      # (1,2), (1,3), (2,3)
  R <- diag(3); R[upper.tri(R)] <- rho; R[lower.tri(R)] <- t(R)[lower.tri(R)]
  ratio <- coef(ms$varStruct, unconstrained = FALSE, allCoef = TRUE)[waves]
  sd <- m$sigma * ratio
  diag(sd) %*% R %*% diag(sd)
}
varcomp_of <- function(m, random) {
  if (is.null(random)) return(numeric(0))
  # VarCorr() prints rounded strings; the reStruct holds the exact relative variances
  re <- m$modelStruct$reStruct
  v <- sapply(names(re), function(k) m$sigma^2 * as.matrix(re[[k]])[1, 1])
  if (length(random) == 1) return(c(klass = v[["klass"]]))
  c(school = v[["school"]], `school:klass` = v[["klass"]])
}

# the dense model: V(psi) = sum_j psi_j G_j
pairs <- list(c(1, 1), c(1, 2), c(1, 3), c(2, 2), c(2, 3), c(3, 3))
G_list <- function(d, random) {
  same <- outer(as.integer(d$student_id), as.integer(d$student_id), "==")
  G <- lapply(pairs, function(st) {
    s <- st[1]; t <- st[2]
    A <- outer(d$widx == s, d$widx == t) & same
    if (s == t) A * 1 else (A | t(A)) * 1
  })
  for (r in random) {
    g <- if (r == "klass") d$klass else d$school
    G[[length(G) + 1]] <- outer(as.integer(g), as.integer(g), "==") * 1
  }
  G
}
reml_crit <- function(psi, y, X, G) {
  V <- Reduce(`+`, Map(`*`, psi, G))
  cV <- chol(V)
  Vi <- chol2inv(cV)
  XtVX <- crossprod(X, Vi %*% X)
  b <- solve(XtVX, crossprod(X, Vi %*% y))
  r <- y - X %*% b
  2 * sum(log(diag(cV))) + as.numeric(determinant(XtVX)$modulus) +
    sum(r * (Vi %*% r)) + (length(y) - ncol(X)) * log(2 * pi)
}

kr_pieces <- function(psi, y, X, G) {
  V <- Reduce(`+`, Map(`*`, psi, G))
  Vi <- solve(V)
  C <- solve(crossprod(X, Vi %*% X))
  P_ <- Vi - Vi %*% X %*% C %*% t(X) %*% Vi
  m <- length(G)
  VGV <- lapply(G, function(g) Vi %*% g %*% Vi)
  Pj <- lapply(VGV, function(a) t(X) %*% a %*% X)
  Q <- lapply(seq_len(m), function(i) lapply(seq_len(m), function(j)
    t(X) %*% VGV[[i]] %*% G[[j]] %*% Vi %*% X))
  b <- C %*% t(X) %*% Vi %*% y
  a <- Vi %*% (y - X %*% b)
  PG <- lapply(G, function(g) P_ %*% g)
  H <- matrix(0, m, m)
  for (i in 1:m) for (j in 1:m)
    H[i, j] <- -sum(diag(PG[[i]] %*% PG[[j]])) +
      2 * as.numeric(t(a) %*% G[[i]] %*% P_ %*% G[[j]] %*% a)
  list(C = C, P = Pj, Q = Q, H_analytic = H)
}

kr_tests <- function(L, beta, kp, H) {
  W <- 2 * solve(H)
  C <- kp$C; m <- length(kp$P)
  U <- matrix(0, nrow(C), ncol(C))
  for (i in 1:m) for (j in 1:m)
    U <- U + W[i, j] * (kp$Q[[i]][[j]] - kp$P[[i]] %*% C %*% kp$P[[j]])
  PhiA <- C + 2 * C %*% U %*% C
  out <- list()
  for (k in seq_len(nrow(L))) {
    l <- L[k, , drop = FALSE]
    est <- as.numeric(l %*% beta)
    # Satterthwaite: g_j = l C P_j C l'
    v <- as.numeric(l %*% C %*% t(l))
    g <- sapply(kp$P, function(Pj) as.numeric(l %*% C %*% Pj %*% C %*% t(l)))
    df_s <- 2 * v^2 / as.numeric(t(g) %*% W %*% g)
    # Kenward-Roger df (KR 1997 eqs 3.3-3.5), q = 1
    Th <- t(l) %*% solve(l %*% C %*% t(l)) %*% l
    u <- lapply(kp$P, function(Pj) Th %*% C %*% Pj %*% C)
    A1 <- 0; A2 <- 0
    for (i in 1:m) for (j in 1:m) {
      A1 <- A1 + W[i, j] * sum(diag(u[[i]])) * sum(diag(u[[j]]))
      A2 <- A2 + W[i, j] * sum(diag(u[[i]] %*% u[[j]]))
    }
    q <- 1
    B <- (A1 + 6 * A2) / (2 * q)
    gg <- ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    den <- 3 * q + 2 * (1 - gg)
    c1 <- gg / den; c2 <- (q - gg) / den; c3 <- (q + 2 - gg) / den
    Estar <- 1 / (1 - A2 / q)
    Vstar <- 2 / q * (1 + c1 * B) / ((1 - c2 * B)^2 * (1 - c3 * B))
    rho <- Vstar / (2 * Estar^2)
    df_kr <- 4 + (q + 2) / (q * rho - 1)
    out[[rownames(L)[k]]] <- list(
      estimate = est,
      kr = list(se = sqrt(as.numeric(l %*% PhiA %*% t(l))), df = df_kr),
      satterthwaite = list(se = sqrt(v), df = df_s))
  }
  out
}

did_L <- function(bn) {
  L <- matrix(0, 3, length(bn), dimnames = list(c("T2-T1", "T3-T1", "T3-T2"), bn))
  L["T2-T1", "conditionmentee:waveT2"] <- 1
  L["T3-T1", "conditionmentee:waveT3"] <- 1
  L["T3-T2", c("conditionmentee:waveT3", "conditionmentee:waveT2")] <- c(1, -1)
  L
}

run_mmrm <- function(ds, L) {
  rhs <- paste(deparse(ds$fixed[[3]]), collapse = "")
  f <- as.formula(paste("score ~", rhs, "+ us(wave | student_id)"))
  # mmrm's default L-BFGS-B stops ~1e-4 (relative) short of the optimum in Sigma here;
  # BFGS with a tight reltol reaches it (logLik higher by 3e-7)
  fit1 <- function(...) mmrm::mmrm(f, data = ds$data, reml = TRUE, optimizer = "BFGS",
                                   optimizer_control = list(reltol = 1e-14, maxit = 5000), ...)
  fits <- list(
    kr_linear = fit1(method = "Kenward-Roger", vcov = "Kenward-Roger-Linear"),
    kr = fit1(method = "Kenward-Roger", vcov = "Kenward-Roger"),
    satterthwaite = fit1(method = "Satterthwaite"))
  m0 <- fits$satterthwaite
  res <- list(beta = as.list(mmrm::component(m0, "beta_est")),
              loglik = as.numeric(logLik(m0)),
              sigma = unname(mmrm::VarCorr(m0)), contrasts = list())
  for (k in rownames(L)) {
    res$contrasts[[k]] <- lapply(fits, function(fm) {
      t1 <- mmrm::df_1d(fm, L[k, ])
      list(estimate = t1$est, se = t1$se, df = t1$df)
    })
  }
  res
}

out <- list()
for (nm in names(designs)) {
  ds <- designs[[nm]]
  m <- fit_nlme(ds)
  beta <- if (inherits(m, "gls")) coef(m) else fixef(m)
  X <- model.matrix(ds$fixed, ds$data)
  stopifnot(identical(colnames(X), names(beta)))
  S <- sigma_of(m)
  vc <- varcomp_of(m, ds$random)
  psi <- c(sapply(pairs, function(st) S[st[1], st[2]]), vc)
  G <- G_list(ds$data, ds$random)
  y <- ds$data$score
  crit <- reml_crit(psi, y, X, G)
  stopifnot(abs(-crit / 2 - as.numeric(logLik(m))) < 1e-8)   # the dense model is nlme's
  H_num <- numDeriv::hessian(reml_crit, psi, y = y, X = X, G = G)
  grad <- numDeriv::grad(reml_crit, psi, y = y, X = X, G = G)
  kp <- kr_pieces(psi, y, X, G)
  h_diff <- max(abs(H_num - kp$H_analytic)) / max(abs(H_num))
  stopifnot(h_diff < 1e-5)
  L <- did_L(names(beta))
  res <- list(
    n_obs = nrow(ds$data), n_pupils = nlevels(ds$data$student_id),
    formula = paste(deparse(ds$fixed), collapse = ""),
    random = if (is.null(ds$random)) list() else as.list(ds$random),
    beta = as.list(beta), vcov = unname(vcov(m)), beta_names = names(beta),
    sigma = unname(S), varcomp = as.list(vc), loglik = as.numeric(logLik(m)),
    reml_gradient_at_fit = grad, hessian_rel_diff_analytic_numeric = h_diff,
    contrasts = kr_tests(L, beta, kp, H_num))
  if (have_mmrm && is.null(ds$random)) res$mmrm <- run_mmrm(ds, L)
  out[[nm]] <- res
  cat(nm, ": logLik", res$loglik, " |grad|", max(abs(grad)), "\n")
  if (!is.null(res$mmrm)) {
    for (k in rownames(L)) {
      a <- res$contrasts[[k]]; b <- res$mmrm$contrasts[[k]]
      cat(sprintf("  %s  KR se %.8f (mmrm KR-Linear %.8f, KR %.8f)  df %.6f (mmrm %.6f)  Satt df %.6f (mmrm %.6f)\n",
                  k, a$kr$se, b$kr_linear$se, b$kr$se, a$kr$df, b$kr_linear$df,
                  a$satterthwaite$df, b$satterthwaite$df))
    }
  }
}
out$versions <- list(R = R.version.string, nlme = as.character(packageVersion("nlme")),
                     numDeriv = as.character(packageVersion("numDeriv")),
                     mmrm = if (have_mmrm) as.character(packageVersion("mmrm")) else NA,
                     TMB = if (have_mmrm) as.character(packageVersion("TMB")) else NA)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "mmrm_reference.json")
