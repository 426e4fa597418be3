"""The IO manager: staging tables as parquet and small documents as JSON under ``<workdir>/<policy>/staging``.

Nothing that holds direct identifiers passes through it: the ``raw`` asset stores only a descriptor of the
source file (path, checksum, size), never a copy of the data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from anon_pipeline.pipeline.workdir import PolicyDirs, default_workdir


class PolicyStagingIOManager(dg.ConfigurableIOManager):
    workdir: str = str(default_workdir())

    def _base(self, key: dg.AssetKey) -> Path:
        policy, *rest = key.path
        return PolicyDirs.for_policy(self.workdir, policy).staging / "__".join(rest)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        base = self._base(context.asset_key)
        if isinstance(obj, pd.DataFrame):
            tmp = base.with_suffix(".parquet.tmp")
            obj.to_parquet(tmp, index=False)
            tmp.replace(base.with_suffix(".parquet"))
        else:
            tmp = base.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
            tmp.replace(base.with_suffix(".json"))

    def load_input(self, context: dg.InputContext) -> Any:
        base = self._base(context.asset_key)
        if base.with_suffix(".parquet").is_file():
            return pd.read_parquet(base.with_suffix(".parquet"))
        return json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
