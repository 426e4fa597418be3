"""Imports every built-in op module so their ``@register_op`` decorators run."""
