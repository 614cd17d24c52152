"""netcore's asv benchmark suite (``asv.conf.json`` at the repository root) and tools.

``bench_training``: training step, predict, epoch, peak memory, GEMM floor;
``bench_ops``: each fused backend op against the unfused NumPy / CuPy sequence it replaces;
``compare.py``: netcore against PyTorch on identical work; ``plot_results.py``: the plot;
``device_check.py``: every GPU check in one command (``--smoke``: its dry run on a CPU).
"""
