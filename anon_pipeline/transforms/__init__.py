"""Transform ops: the registry and the built-in ops (banding, hierarchies, reference look-ups, codes)."""

from anon_pipeline.transforms.registry import (ENTRY_POINT_GROUP, ColumnOp, FitContext, OpParams, TableOp,
                                               get_op, register_op, registered_ops)

__all__ = ["ENTRY_POINT_GROUP", "ColumnOp", "FitContext", "OpParams", "TableOp", "get_op", "register_op",
           "registered_ops"]
