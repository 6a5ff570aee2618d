# Reference values for mut_eval.stats.box_m (Box's M test of equal covariance matrices).
#
# Run from the repository root:   Rscript tests/reference/box_m_reference.R
# Base R only (heplots is not used): the formula is written out from Box (1949,
# Biometrika 36:317-346) as given by Rencher & Christensen (2012, Methods of Multivariate
# Analysis, 3rd ed., sec. 7.3.2) and the IBM SPSS Statistics Algorithms ("Box's M test").
# Reads  tests/reference/box_m_example_data.csv (made by box_m_make_data.py: the example
#        cohort's completers of two outcomes, no identifiers)
# Writes tests/reference/box_m_reference.csv (one row per case, full double precision)
#        tests/reference/box_m_iris.csv (R's datasets::iris, for the Python test)
#        tests/reference/box_m_versions.json is written by hand (R.version.string).
# Cases: iris (4 measures, 3 species; heplots' documentation prints chi2 = 140.943, df 20),
#        iris setosa vs versicolor on the two sepal measures (p = 2, g = 2, equal n: the
#        c2 < c1^2 branch of the F approximation), the published 2-group example of
#        Trujillo-Ortiz et al. (2002, MBoxtest for MATLAB, after Stevens 1992 pp. 260-269:
#        M = 27.1622, F = 2.6293, df 6 and 463, P = .0162), and the example cohort.

out_dir <- "tests/reference"

box_m <- function(Y, group) {
  Y <- as.matrix(Y)
  group <- factor(group)
  p <- ncol(Y)
  g <- nlevels(group)
  v_i <- as.numeric(table(group)) - 1
  v <- sum(v_i)
  S_i <- lapply(levels(group), function(l) cov(Y[group == l, , drop = FALSE]))
  S_p <- Reduce(`+`, Map(function(S, vi) vi * S, S_i, v_i)) / v
  M <- v * log(det(S_p)) - sum(v_i * sapply(S_i, function(S) log(det(S))))
  c1 <- (sum(1 / v_i) - 1 / v) * (2 * p^2 + 3 * p - 1) / (6 * (p + 1) * (g - 1))
  c2 <- (sum(1 / v_i^2) - 1 / v^2) * (p - 1) * (p + 2) / (6 * (g - 1))
  df1 <- (g - 1) * p * (p + 1) / 2
  chi2 <- (1 - c1) * M
  if (c2 > c1^2) {
    df2 <- (df1 + 2) / (c2 - c1^2)
    F <- M / (df1 / (1 - c1 - df1 / df2))
  } else {
    df2 <- (df1 + 2) / (c1^2 - c2)
    b <- df2 / (1 - c1 + 2 / df2)
    F <- df2 * M / (df1 * (b - M))
  }
  n <- as.numeric(table(group))
  data.frame(box_m = M, chi2 = chi2, chi2_df = df1,
             chi2_p = pchisq(chi2, df1, lower.tail = FALSE), F = F, df1 = df1, df2 = df2,
             p = pf(F, df1, df2, lower.tail = FALSE), n_1 = n[1], n_2 = n[2],
             n_3 = if (g > 2) n[3] else NA, branch = if (c2 > c1^2) "c2>c1^2" else "c2<c1^2")
}

write.csv(iris, file.path(out_dir, "box_m_iris.csv"), row.names = FALSE, quote = FALSE)

rows <- list()
rows[["iris"]] <- box_m(iris[, 1:4], iris$Species)
two <- droplevels(iris[iris$Species %in% c("setosa", "versicolor"), ])
rows[["iris_sepal_2groups"]] <- box_m(two[, c("Sepal.Length", "Sepal.Width")], two$Species)
stevens <- matrix(c(23, 45, 15, 40, 85, 18, 215, 307, 60, 110, 110, 50, 65, 105, 24,
                    277, 230, 63, 153, 80, 29, 306, 440, 105, 252, 350, 175, 143, 205, 42),
                  ncol = 3, byrow = TRUE)
rows[["trujillo_ortiz_2002"]] <- box_m(stevens, rep(1:2, each = 5))
ex <- read.csv(file.path(out_dir, "box_m_example_data.csv"))
for (o in unique(ex$outcome)) {
  d <- ex[ex$outcome == o, ]
  # mentee first, as mut_eval orders the conditions
  rows[[paste0("example_", o)]] <- box_m(d[, c("T1", "T2", "T3")],
                                         factor(d$condition, levels = c("mentee", "control")))
}
res <- cbind(case = names(rows), do.call(rbind, rows))
for (nm in names(res)) {
  if (is.numeric(res[[nm]])) res[[nm]] <- ifelse(is.na(res[[nm]]), NA, sprintf("%.17g", res[[nm]]))
}
write.csv(res, file.path(out_dir, "box_m_reference.csv"), row.names = FALSE, quote = FALSE, na = "")
print(res)
