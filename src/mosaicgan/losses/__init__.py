"""Loss functions: pure functions of tensors (and, for the gradient penalty, a network)."""
