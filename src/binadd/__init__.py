"""binadd: teach small neural networks to add binary numbers, and measure how far
what they learned carries beyond the lengths they trained on."""

__version__ = "0.1.0"
