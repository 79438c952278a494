// Reference kernels of the tensor group.
