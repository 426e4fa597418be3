import pytest

from anon_pipeline.transforms import ColumnOp, OpParams, get_op, register_op, registered_ops


def test_builtins_are_registered():
    assert {"band", "age", "hierarchy", "postcode_region", "country_continent", "regroup", "encode"} <= set(
        registered_ops())


def test_decorator_registers_and_unknown_op_lists_known_ones():
    class SuffixParams(OpParams):
        suffix: str

    @register_op("test_suffix")
    class Suffix(ColumnOp):
        Params = SuffixParams

        def apply(self, values, plan, ctx):
            return values.astype("str") + self.params.suffix

    assert get_op("test_suffix") is Suffix
    with pytest.raises(KeyError, match="registered ops: .*band"):
        get_op("no_such_op")


def test_registering_a_non_op_fails():
    with pytest.raises(TypeError):
        register_op("bad")(object)
