"""Statistical analyses: one module per family, DataFrame in, tidy DataFrame out."""
from .anova import interaction_contrasts, mixed_anova
from .descriptives import completers, descriptives, descriptives_table
from .reliability import cronbach_alpha, omega_total, reliability, reliability_table

__all__ = [
    "mixed_anova", "interaction_contrasts",
    "descriptives", "descriptives_table", "completers",
    "cronbach_alpha", "omega_total", "reliability", "reliability_table",
]
