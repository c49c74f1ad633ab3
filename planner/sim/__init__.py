"""Time simulation: supply, reliability and the elastic training job (SimPy), replications and summary."""
