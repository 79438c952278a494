// Reference kernels of the conv group.
