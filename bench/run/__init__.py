"""Running points: the stage list, the loop that runs it, the store, and the executors."""
