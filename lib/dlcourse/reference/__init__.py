"""Reference implementations that test cells and the grader compare against.

NumPy, float64, forward/backward pairs with a cache (see docs/architecture.md,
"Reference contract"). One module per concept, in teaching order.
"""
