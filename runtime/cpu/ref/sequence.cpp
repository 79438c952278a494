// Reference kernels of the sequence group.
