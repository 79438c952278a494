// Reference kernels of the elementwise group.
