"""Running points: groups of points through the plan (`point`) and sweeps over local
processes or Dask (`executor`)."""
