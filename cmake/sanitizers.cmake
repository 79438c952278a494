# With TESSEL_SANITIZE=ON every target is built with ASan+UBSan; UBSan findings abort so
# that a test cannot pass over undefined behaviour.
if(TESSEL_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
