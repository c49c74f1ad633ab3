"""The training cost model: parameters, memory, step time and the layout search. Pure numpy, no simpy."""
