# Numbers from R's metafor that tests/test_synthesis.py keeps: run by hand after changing a
# case (Rscript benchmarks/metafor_oracle.R); the tests never need R.
suppressMessages({library(metafor); library(jsonlite)})
dir <- "tests/fixtures/synthesis"
read <- function(name) read.csv(file.path(dir, name), stringsAsFactors = FALSE)
z <- qnorm(0.975)

data_of <- function(d, measure) {
  if (measure %in% c("PLO", "PFT", "PAS", "PR")) escalc(measure, xi = d$events, ni = d$total)
  else if (measure %in% c("RR", "OR", "RD"))
    escalc(measure, ai = d$events_1, n1i = d$total_1, ci = d$events_2, n2i = d$total_2)
  else if ("se" %in% names(d)) data.frame(yi = d$estimate, vi = d$se^2)
  else data.frame(yi = log(d$estimate),
                  vi = ((log(d$ci_high) - log(d$ci_low)) / (2 * z))^2)
}

back <- function(measure, d, ratio) {
  if (measure == "PLO") list(transf = transf.ilogit, targs = NULL)
  else if (measure == "PAS") list(transf = transf.iarcsin, targs = NULL)
  else if (measure == "PFT") list(transf = transf.ipft.hm, targs = list(ni = d$total))
  else if (measure %in% c("RR", "OR") || ratio) list(transf = exp, targs = NULL)
  else list(transf = NULL, targs = NULL)
}

fit <- function(d, measure, method, knha, control = list()) {
  if (method == "GLMM") return(rma.glmm(measure = "PLO", xi = d$events, ni = d$total))
  e <- data_of(d, measure)
  rma(as.numeric(e$yi), as.numeric(e$vi), method = if (method == "EE") "FE" else method,
      test = if (knha) "knha" else "z", control = control)
}

summary_of <- function(res, d, measure, ratio) {
  b <- back(measure, d, ratio)
  p <- if (is.null(b$transf)) predict(res) else predict(res, transf = b$transf, targs = b$targs)
  pick <- function(x) if (is.null(x)) NA else as.numeric(x)
  list(k = res$k, mu = as.numeric(res$beta), se = res$se,
       estimate = pick(p$pred), ci_low = pick(p$ci.lb), ci_high = pick(p$ci.ub),
       pi_low = pick(p$pi.lb), pi_high = pick(p$pi.ub), tau2 = res$tau2,
       i2 = res$I2, h2 = res$H2, q = if (is.null(res$QE.Wld)) res$QE else res$QE.Wld,
       q_p = if (is.null(res$QEp.Wld)) res$QEp else res$QEp.Wld)
}

cases <- list()
add <- function(file, measure, method, knha = FALSE, by = NULL, extra = FALSE,
                control = list()) {
  d <- read(file)
  ratio <- measure == "GEN" && "ci_low" %in% names(d)
  res <- fit(d, measure, method, knha, control)
  out <- c(list(file = file, measure = measure, method = method, knha = knha),
           summary_of(res, d, measure, ratio))
  if (!is.null(by)) {
    groups <- sort(unique(d[[by]]))
    subs <- lapply(groups, function(g) {
      s <- d[d[[by]] == g, ]
      r <- fit(s, measure, method, knha)
      c(list(group = g), summary_of(r, s, measure, ratio))
    })
    # the test for subgroup differences takes the groups' Wald standard errors
    mu <- sapply(subs, function(s) s$mu)
    se <- sapply(groups, function(g) fit(d[d[[by]] == g, ], measure, method, FALSE)$se)
    between <- rma(mu, sei = se, method = "FE")
    out$by <- by
    out$subgroups <- subs
    out$subgroup_test <- list(q = between$QE, df = length(groups) - 1, p = between$QEp)
  }
  if (extra) {
    l1o <- leave1out(res)
    out$leave_one_out <- list(mu = as.numeric(l1o$estimate), tau2 = as.numeric(l1o$tau2),
                              i2 = as.numeric(l1o$I2), q = as.numeric(l1o$Q))
    if (res$k >= 10) {
      eg <- regtest(res)
      out$egger <- list(z = eg$zval, p = eg$pval, df = eg$dfs)
    }
  }
  cases[[length(cases) + 1]] <<- out
}

proportions <- c("pritz1997.csv", "nielweise2007_control.csv", "zeros_proportions.csv")
for (file in proportions) {
  for (measure in c("PLO", "PFT", "PAS", "PR")) {
    for (method in c("EE", "DL", "REML", "ML", "PM")) add(file, measure, method)
    add(file, measure, "REML", knha = TRUE)
    add(file, measure, "DL", knha = TRUE)
  }
  add(file, "PLO", "GLMM")
}
add("pritz1997.csv", "PLO", "REML", extra = TRUE)
add("zeros_proportions.csv", "PLO", "REML", by = "group", extra = TRUE)
add("zeros_proportions.csv", "PFT", "DL", by = "group")
add("zeros_proportions.csv", "PLO", "GLMM", by = "group")
for (file in c("bcg.csv", "zeros_two_arms.csv")) {
  for (measure in c("RR", "OR", "RD")) {
    for (method in c("EE", "DL", "REML", "ML", "PM")) add(file, measure, method)
    add(file, measure, "REML", knha = TRUE)
  }
}
add("bcg.csv", "RR", "REML", by = "group", extra = TRUE)
add("bcg.csv", "RR", "DL", by = "group", knha = TRUE)
for (file in c("bcg_generic.csv", "bcg_ratio_ci.csv")) {
  for (method in c("EE", "DL", "REML")) add(file, "GEN", method)
}
# metafor's default Fisher scoring does not converge here; its manual's remedy does
add("fisher_scoring_stalls.csv", "PLO", "REML", control = list(stepadj = 0.5, maxiter = 1000))
writeLines(toJSON(list(metafor = as.character(packageVersion("metafor")), cases = cases),
                  auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(dir, "metafor.json"))
