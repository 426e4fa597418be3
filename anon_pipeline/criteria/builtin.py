"""The built-in privacy models, registered here in the order their checks are listed (k, l, t, delta, beta, risk,
then K_eps, which is reported, not checked), whatever order their modules happen to be imported in."""

from anon_pipeline.criteria.closeness import TCloseness
from anon_pipeline.criteria.disclosure import BetaLikeness, DeltaDisclosure
from anon_pipeline.criteria.diversity import LDiversity
from anon_pipeline.criteria.k_anonymity import KAnonymity
from anon_pipeline.criteria.k_eps import KEps
from anon_pipeline.criteria.registry import register_privacy_model
from anon_pipeline.criteria.risk import RiskThreshold

for _name, _model in (("k_anonymity", KAnonymity), ("l_diversity", LDiversity), ("t_closeness", TCloseness),
                      ("delta_disclosure", DeltaDisclosure), ("basic_beta_likeness", BetaLikeness),
                      ("risk", RiskThreshold), ("k_eps", KEps)):
    register_privacy_model(_name)(_model)
