// Reference kernels of the quant_reduce group.
