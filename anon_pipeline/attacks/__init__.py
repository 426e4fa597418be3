"""Attack-based privacy evaluation of a release: the singling-out, linkability and inference attacks of
Giomi et al., "A Unified Framework for Quantifying Privacy Risk in Synthetic Data" (PoPETs 2023), as anonymeter
implements them, measured against a control split the release never saw, and a linkage attack for generalised
releases. Pure core (numpy, pandas, scipy)."""

from anon_pipeline.attacks.confidence import AttackResult, Rate, Risk, residual_success, success_rate
from anon_pipeline.attacks.inference import inference
from anon_pipeline.attacks.linkability import linkability
from anon_pipeline.attacks.linkage import linkage
from anon_pipeline.attacks.report import ATTACKS, attack_report, render_markdown
from anon_pipeline.attacks.singling_out import singling_out

__all__ = ["ATTACKS", "AttackResult", "Rate", "Risk", "attack_report", "inference", "linkability", "linkage",
           "render_markdown", "residual_success", "singling_out", "success_rate"]
