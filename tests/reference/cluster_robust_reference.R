# Reference values for tests/test_cluster_robust.py (mut_eval/stats/cluster_robust.py).
#
#   Rscript tests/reference/cluster_robust_reference.R
#
# Reads cluster_robust_data.csv (written by cluster_robust_make_data.py) and writes
# cluster_robust_reference.json:
# - "cr2": clubSandwich::coef_test(lm(...), vcov = "CR2", cluster = class,
#   test = "Satterthwaite") for the change-score model (T_k - T_j ~ condition) and the
#   ANCOVA (T_k ~ condition + T_j), unweighted and weighted (WLS), every coefficient;
#   classes are made unique within school ("B/3V1" and "C/3V1" are two classes).
# - "contrast": a linear combination c'b of the ANCOVA coefficients, computed by
#   clubSandwich on the reparametrised model whose first coefficient is c'b (CR2 and its
#   Satterthwaite df do not depend on the parametrisation of the column space).
# - "wild": the restricted wild cluster bootstrap (H0: condition coefficient = r) by
#   exact enumeration of all 2^G Rademacher sign vectors, written independently of the
#   Python code: every bootstrap sample y* is refitted (one QR for all 2^G columns) and
#   studentised with the CR1 variance from rowsum() of the cluster scores; the p-value
#   at r = 0 is checked against a loop that refits lm() and calls clubSandwich::vcovCR
#   on each sample (type "CR1"; and type "CR2" for the CR2-studentised p-value). The CI
#   inverts the test with the algorithm of the module docstring (doubling steps of
#   4 x the CR1S se until p < .05, then 80 bisections; the Python code stops when the
#   bracket is narrower than 1e-10 x se, so the ends agree to about that).
# Symmetric p-value: mean(|t*| >= |t| (1 - 1e-9)), the tolerance so that the identity
# sign vector (t* = t in exact arithmetic) counts.
suppressMessages({
  library(clubSandwich)
  library(jsonlite)
})

here <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference"
})
d <- read.csv(file.path(here, "cluster_robust_data.csv"), stringsAsFactors = FALSE)
d$cl <- paste(d$school, d$class, sep = "/")
d$mentee <- as.numeric(d$condition == "mentee")
TOL <- 1e-9
ALPHA <- 0.05

changes <- list(c("T2", "T1"), c("T3", "T1"), c("T3", "T2"))

sample_for <- function(later, earlier) {
  yk <- paste0("self_efficacy_", later)
  yj <- paste0("self_efficacy_", earlier)
  s <- d[!is.na(d[[yk]]) & !is.na(d[[yj]]), ]
  s$later <- s[[yk]]
  s$earlier <- s[[yj]]
  s$change <- s$later - s$earlier
  s
}

ct_rows <- function(fit, cl, model, contrast, weighted) {
  ct <- coef_test(fit, vcov = "CR2", cluster = cl, test = "Satterthwaite")
  q <- qt(1 - ALPHA / 2, ct$df_Satt)
  data.frame(model = model, contrast = contrast, weighted = weighted,
             term = ct$Coef, estimate = ct$beta, se = ct$SE, df = ct$df_Satt,
             p = ct$p_Satt, ci_low = ct$beta - q * ct$SE, ci_high = ct$beta + q * ct$SE,
             n = nobs(fit), n_clusters = length(unique(cl)), stringsAsFactors = FALSE)
}

cr2 <- list()
contr <- list()
for (ch in changes) {
  lab <- paste(ch, collapse = "-")
  s <- sample_for(ch[1], ch[2])
  for (weighted in c(FALSE, TRUE)) {
    w <- if (weighted) s$weight else NULL
    f_change <- lm(change ~ mentee, data = s, weights = w)
    f_ancova <- lm(later ~ mentee + earlier, data = s, weights = w)
    cr2[[length(cr2) + 1]] <- ct_rows(f_change, s$cl, "change", lab, weighted)
    cr2[[length(cr2) + 1]] <- ct_rows(f_ancova, s$cl, "ancova", lab, weighted)
    # c'b with c = (1, 1, 3): the predicted mentee score at a baseline of 3.
    cvec <- c(1, 1, 3)
    Tm <- rbind(cvec, c(0, 1, 0), c(0, 0, 1))        # new coefficients = Tm %*% b
    X <- model.matrix(f_ancova)
    Z <- X %*% solve(Tm)
    colnames(Z) <- c("cb", "mentee", "earlier")
    f_z <- lm(s$later ~ Z - 1, weights = w)
    r <- ct_rows(f_z, s$cl, "ancova", lab, weighted)[1, ]
    r$c <- paste(cvec, collapse = ",")
    contr[[length(contr) + 1]] <- r
  }
}
cr2 <- do.call(rbind, cr2)
contr <- do.call(rbind, contr)

# ---- restricted wild cluster bootstrap by exact enumeration --------------------------
signs <- function(G) as.matrix(expand.grid(rep(list(c(1, -1)), G)))   # 2^G x G

wcr_p <- function(y, X, cl, k, r, w) {
  g <- as.integer(factor(cl))
  V <- signs(max(g))
  X0 <- X[, -k, drop = FALSE]
  y0 <- y - r * X[, k]
  f0 <- lm.wfit(X0, y0, w)
  u <- as.vector(f0$residuals)
  fitted0 <- as.vector(y - u)                       # X0 g~ + r x_k
  Ystar <- fitted0 + u * t(V[, g, drop = FALSE])    # n x 2^G
  sw <- sqrt(w)
  B <- qr.coef(qr(X * sw), Ystar * sw)              # p x 2^G
  E <- Ystar - X %*% B
  M <- solve(crossprod(X * sw))
  a <- as.vector((X %*% M[, k]) * w)
  v_star <- colSums(rowsum(E * a, g)^2)
  t_star <- (B[k, ] - r) / sqrt(v_star)
  full <- lm.wfit(X, y, w)
  t0 <- (full$coefficients[k] - r) / sqrt(sum(rowsum(full$residuals * a, g)^2))
  mean(abs(t_star) >= abs(t0) * (1 - TOL))
}

# The same p-value at r = 0 by refitting lm() and clubSandwich::vcovCR on each sample.
wcr_p_loop <- function(y, X, cl, k, w, type) {
  g <- as.integer(factor(cl))
  V <- signs(max(g))
  X0 <- X[, -k, drop = FALSE]
  f0 <- lm.wfit(X0, y, w)
  u <- as.vector(f0$residuals)
  fitted0 <- as.vector(y - u)
  tstat <- function(yy) {
    f <- lm(yy ~ X - 1, weights = w)
    vc <- vcovCR(f, cluster = cl, type = type)
    coef(f)[k] / sqrt(vc[k, k])
  }
  t0 <- tstat(y)
  t_star <- apply(V, 1, function(v) tstat(fitted0 + u * v[g]))
  mean(abs(t_star) >= abs(t0) * (1 - TOL))
}

invert <- function(pfun, est, se) {
  ends <- c(NA, NA)
  for (i in 1:2) {
    sgn <- c(-1, 1)[i]
    step <- 4 * se
    found <- FALSE
    for (j in 1:60) {
      if (pfun(est + sgn * step) < ALPHA) { found <- TRUE; break }
      step <- step * 2
    }
    if (!found) { ends[i] <- sgn * Inf; next }
    inner <- 0; outer <- step
    for (j in 1:80) {
      mid <- (inner + outer) / 2
      if (pfun(est + sgn * mid) >= ALPHA) inner <- mid else outer <- mid
    }
    ends[i] <- est + sgn * (inner + outer) / 2
  }
  ends
}

wild <- list()
for (ch in changes[1:2]) {
  lab <- paste(ch, collapse = "-")
  s <- sample_for(ch[1], ch[2])
  for (model in c("change", "ancova")) {
    for (weighted in c(FALSE, TRUE)) {
      w <- if (weighted) s$weight else rep(1, nrow(s))
      if (model == "change") {
        y <- s$change; X <- cbind(1, s$mentee)
      } else {
        y <- s$later; X <- cbind(1, s$mentee, s$earlier)
      }
      k <- 2
      f <- lm(y ~ X - 1, weights = w)
      se1s <- sqrt(vcovCR(f, cluster = s$cl, type = "CR1S")[k, k])
      p_fast <- wcr_p(y, X, s$cl, k, 0, w)
      p_loop <- wcr_p_loop(y, X, s$cl, k, w, "CR1")
      if (abs(p_fast - p_loop) > 1e-12) stop("brute-force and clubSandwich-loop p-values differ")
      p_cr2 <- wcr_p_loop(y, X, s$cl, k, w, "CR2")
      ci <- invert(function(r) wcr_p(y, X, s$cl, k, r, w), coef(f)[k], se1s)
      wild[[length(wild) + 1]] <- data.frame(
        model = model, contrast = lab, weighted = weighted, estimate = unname(coef(f)[k]),
        se_cr1s = se1s, p_cr1 = p_fast, p_cr2 = p_cr2, ci_low = ci[1], ci_high = ci[2],
        n_draws = 2^length(unique(s$cl)), n = nrow(s), n_clusters = length(unique(s$cl)),
        stringsAsFactors = FALSE)
    }
  }
}
wild <- do.call(rbind, wild)

versions <- list(R = R.version.string,
                 clubSandwich = as.character(packageVersion("clubSandwich")),
                 jsonlite = as.character(packageVersion("jsonlite")))
out <- list(versions = versions, alpha = ALPHA, cr2 = cr2, contrast = contr, wild = wild)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(here, "cluster_robust_reference.json"))
cat("wrote", file.path(here, "cluster_robust_reference.json"), "\n")
