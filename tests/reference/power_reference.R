# Reference values for mut_eval/stats/power.py (tests/test_power.py), computed with
# PowerUpR (Bulus, Dong, Kelcey & Spybrook; the R companion of PowerUp!, Dong & Maynard
# 2013), version 1.1.0 (github metinbulus/PowerUpR, commit 5580f7e).
#
# Run:  Rscript tests/reference/power_reference.R            (PowerUpR installed), or
#       POWERUPR_SRC=/path/to/PowerUpR Rscript tests/reference/power_reference.R
#       (a source checkout: its R/*.R files are sourced; used here, CRAN not reachable)
# Writes tests/reference/power_reference.json next to this script.
#
# Each case: the PowerUpR call, its MDES, power, df, standardised SE (= mdes / ncp for
# mdes.*, = es / ncp for power.*) and, for mrss.*, the required J / n it prints.
suppressMessages(library(jsonlite))
src <- Sys.getenv("POWERUPR_SRC")
if (nzchar(src)) {
  for (f in list.files(file.path(src, "R"), pattern = "[.]R$", full.names = TRUE)) source(f)
  version <- read.dcf(file.path(src, "DESCRIPTION"))[, "Version"]
} else {
  library(PowerUpR)
  version <- as.character(packageVersion("PowerUpR"))
}
quiet <- function(expr) { out <- NULL; capture.output(out <- suppressWarnings(expr)); out }

cases <- list()
add <- function(name, call, m = NULL, p = NULL, r = NULL) {
  x <- list(call = call)
  if (!is.null(m)) { x$mdes <- unname(m$mdes[1]); x$df <- m$df; x$se <- unname(m$mdes[1] / m$ncp) }
  if (!is.null(p)) { x$power <- p$power; x$df <- p$df; x$se <- unname(p$parms$es / p$ncp) }
  if (!is.null(r)) { x$mrss <- if (!is.null(r$J)) r$J else r$n; x$mrss_df <- r$df }
  cases[[name]] <<- x
}

# --- the cross-checks of PowerUpR's own documentation (man/ira.Rd, man/cra2.Rd) ---------
add("ira_doc", "mdes.ira(n=250); power.ira(es=.356, n=250); mrss.ira(es=.356)",
    m = quiet(mdes.ira(n = 250)), p = quiet(power.ira(es = .356, n = 250)), r = quiet(mrss.ira(es = .356)))
add("cra2_doc", "mdes.cra2(rho2=.17, n=15, J=20); power.cra2(es=.629, ...); mrss.cra2(es=.629, rho2=.17, n=15)",
    m = quiet(mdes.cra2(rho2 = .17, n = 15, J = 20)), p = quiet(power.cra2(es = .629, rho2 = .17, n = 15, J = 20)),
    r = quiet(mrss.cra2(es = .629, rho2 = .17, n = 15)))
add("cra2_src_example", "mdes.cra2r2(rho2=.20, n=4, J=20, alpha=.01)",
    m = quiet(mdes.cra2r2(rho2 = .20, n = 4, J = 20, alpha = .01)))
add("bcra3f2_doc", "mdes.bcra3f2(rho2=.10, n=20, J=44, K=5); power.bcra3f2(es=.145, ...); mrss.bcra3f2(es=.145, rho2=.10, n=20, K=5)",
    m = quiet(mdes.bcra3f2(rho2 = .10, n = 20, J = 44, K = 5)),
    p = quiet(power.bcra3f2(es = .145, rho2 = .10, n = 20, J = 44, K = 5)),
    r = quiet(mrss.bcra3f2(es = .145, rho2 = .10, n = 20, K = 5)))
add("ira_pn_doc", "mdes.ira_pn(n=250); power.ira_pn(es=.377, n=250)  (rho_ic=.20, ic_size=1: fixed groups)",
    m = quiet(mdes.ira_pn(n = 250)), p = quiet(power.ira_pn(es = .377, n = 250)))
add("ira_pn_lohr33", "mdes.ira_pn(n=250, rho_ic=.10, ic_size=5, df=Inf)  (Lohr, Schochet & Sanders 2014, example 3.3)",
    m = quiet(mdes.ira_pn(n = 250, rho_ic = .10, ic_size = 5, df = Inf)))

# --- cases with covariates, unequal allocation, one-sided tests, Satterthwaite df -----------
add("ira_cov", "mdes.ira(n=400, r21=.50, g1=1, p=.60); power.ira(es=.20, ...)",
    m = quiet(mdes.ira(n = 400, r21 = .50, g1 = 1, p = .60)),
    p = quiet(power.ira(es = .20, n = 400, r21 = .50, g1 = 1, p = .60)))
add("cra2_cov", "mdes.cra2(rho2=.10, r21=.40, r22=.60, g2=1, n=22, J=34, power=.90, alpha=.10); power.cra2(es=.25, alpha=.05, ...)",
    m = quiet(mdes.cra2(rho2 = .10, r21 = .40, r22 = .60, g2 = 1, n = 22, J = 34, power = .90, alpha = .10)),
    p = quiet(power.cra2(es = .25, rho2 = .10, r21 = .40, r22 = .60, g2 = 1, n = 22, J = 34)),
    r = quiet(mrss.cra2(es = .25, rho2 = .10, r21 = .40, r22 = .60, g2 = 1, n = 22)))
add("cra2_onesided", "mdes.cra2(rho2=.08, n=25, J=12, two.tailed=FALSE, p=.40)",
    m = quiet(mdes.cra2(rho2 = .08, n = 25, J = 12, two.tailed = FALSE, p = .40)))
add("bcra3f2_cov", "mdes.bcra3f2(rho2=.06, r21=.5, r22=.5, g2=1, n=18, J=6, K=8); power.bcra3f2(es=.20, ...)",
    m = quiet(mdes.bcra3f2(rho2 = .06, r21 = .5, r22 = .5, g2 = 1, n = 18, J = 6, K = 8)),
    p = quiet(power.bcra3f2(es = .20, rho2 = .06, r21 = .5, r22 = .5, g2 = 1, n = 18, J = 6, K = 8)))
# total-SD units: BCRA3_2r with omega3 = 0 has mut_eval's school-design SE (df differs)
add("bcra3r2_omega0", "mdes.bcra3r2(rho3=.05, rho2=.08, omega3=0, r21=.5, r22=.5, n=18, J=6, K=8)",
    m = quiet(mdes.bcra3r2(rho3 = .05, rho2 = .08, omega3 = 0, r21 = .5, r22 = .5, n = 18, J = 6, K = 8)))
add("ira_pn_groups", "mdes.ira_pn(n=240, rho_ic=.10, ic_size=6, p=.5, r21=.3); power.ira_pn(es=.35, ...)  (Satterthwaite df)",
    m = quiet(mdes.ira_pn(n = 240, rho_ic = .10, ic_size = 6, p = .5, r21 = .3)),
    p = quiet(power.ira_pn(es = .35, n = 240, rho_ic = .10, ic_size = 6, p = .5, r21 = .3)))
add("ira_pn_unequal", "mdes.ira_pn(n=300, rho_ic=.15, ic_size=4, p=2/3)",
    m = quiet(mdes.ira_pn(n = 300, rho_ic = .15, ic_size = 4, p = 2/3)))

out <- list(source = paste0("PowerUpR ", version, " (github metinbulus/PowerUpR 5580f7e)"),
            r_version = R.version.string, cases = cases)
here <- tryCatch(dirname(sys.frame(1)$ofile), error = function(e) NULL)
if (is.null(here)) {
  a <- commandArgs(FALSE); f <- sub("^--file=", "", a[grep("^--file=", a)])
  here <- if (length(f)) dirname(f) else "."
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "power_reference.json"))
