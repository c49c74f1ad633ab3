"""Unit conversions, applied once at load time. Inside the code: FLOP, bytes, seconds."""

GIB = 1024**3  # bytes per GiB
GB = 1e9  # bytes per GB
TB = 1e12  # bytes per TB
TFLOPS = 1e12  # FLOP/s per TFLOP/s
GBPS_TO_BYTES = 1e9 / 8  # bytes/s per Gbit/s
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
HOURS_PER_DAY = 24.0
HOURS_PER_YEAR = 8760.0
