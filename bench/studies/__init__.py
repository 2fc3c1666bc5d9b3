"""Studies built on runs: the paper reproduction, published designs, the speed benchmark."""
