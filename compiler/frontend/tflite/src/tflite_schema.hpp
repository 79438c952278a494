#pragma once
// The facts of TFLite's FlatBuffers schema (tensorflow/lite/schema/schema.fbs, version 3c)
// that the importer needs, as data: table field ids, enum names, the BuiltinOperator and
// BuiltinOptions lists, and the fields of every builtin options table.
//
// Field ids are declaration order in the .fbs file; a union field takes two ids (its type,
// then its value). Keep the lists in schema order: a position IS the enum value.

#include <cstddef>
#include <cstdint>

namespace tessel::tflite::schema {

// Field ids of the tables the importer walks.
namespace model {
enum : int { version = 0, operator_codes = 1, subgraphs = 2, description = 3, buffers = 4 };
}
namespace operator_code {
enum : int { deprecated_builtin_code = 0, custom_code = 1, version = 2, builtin_code = 3 };
}
namespace subgraph {
enum : int { tensors = 0, inputs = 1, outputs = 2, operators = 3, name = 4 };
}
namespace tensor {
enum : int { shape = 0, type = 1, buffer = 2, name = 3, quantization = 4, is_variable = 5,
             sparsity = 6 };
}
namespace quantization {
// details is a union: type at 4, value at 5.
enum : int { min = 0, max = 1, scale = 2, zero_point = 3, details_type = 4,
             quantized_dimension = 6 };
}
namespace op {
// builtin_options is a union: type at 3, value at 4.
enum : int { opcode_index = 0, inputs = 1, outputs = 2, builtin_options_type = 3,
             custom_options = 5 };
}
namespace buffer {
enum : int { data = 0, offset = 1, size = 2 };
}

inline constexpr uint32_t kSchemaVersion = 3;
inline constexpr int32_t kCustomOpCode = 32;

// TensorType, by value.
inline constexpr const char* kTensorTypeNames[] = {
    "FLOAT32", "FLOAT16", "INT32",   "UINT8",    "INT64",   "STRING",  "BOOL",   "INT16",  "COMPLEX64",
    "INT8",    "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT", "UINT32", "UINT16", "INT4"};
inline constexpr size_t kNumTensorTypes = sizeof(kTensorTypeNames) / sizeof(kTensorTypeNames[0]);

// BuiltinOperator, by value: the operator's name and the BuiltinOptions member that holds
// its options (nullptr: none, or a table without fields).
struct BuiltinOp {
  const char* name;
  const char* options;
};
inline constexpr BuiltinOp kBuiltinOps[] = {
    {"ADD", "AddOptions"},
    {"AVERAGE_POOL_2D", "Pool2DOptions"},
    {"CONCATENATION", "ConcatenationOptions"},
    {"CONV_2D", "Conv2DOptions"},
    {"DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions"},
    {"DEPTH_TO_SPACE", "DepthToSpaceOptions"},
    {"DEQUANTIZE", nullptr},
    {"EMBEDDING_LOOKUP", nullptr},
    {"FLOOR", nullptr},
    {"FULLY_CONNECTED", "FullyConnectedOptions"},
    {"HASHTABLE_LOOKUP", nullptr},
    {"L2_NORMALIZATION", "L2NormOptions"},
    {"L2_POOL_2D", "Pool2DOptions"},
    {"LOCAL_RESPONSE_NORMALIZATION", "LocalResponseNormalizationOptions"},
    {"LOGISTIC", nullptr},
    {"LSH_PROJECTION", "LSHProjectionOptions"},
    {"LSTM", "LSTMOptions"},
    {"MAX_POOL_2D", "Pool2DOptions"},
    {"MUL", "MulOptions"},
    {"RELU", nullptr},
    {"RELU_N1_TO_1", nullptr},
    {"RELU6", nullptr},
    {"RESHAPE", "ReshapeOptions"},
    {"RESIZE_BILINEAR", "ResizeBilinearOptions"},
    {"RNN", "RNNOptions"},
    {"SOFTMAX", "SoftmaxOptions"},
    {"SPACE_TO_DEPTH", "SpaceToDepthOptions"},
    {"SVDF", "SVDFOptions"},
    {"TANH", nullptr},
    {"CONCAT_EMBEDDINGS", "ConcatEmbeddingsOptions"},
    {"SKIP_GRAM", "SkipGramOptions"},
    {"CALL", "CallOptions"},
    {"CUSTOM", nullptr},
    {"EMBEDDING_LOOKUP_SPARSE", "EmbeddingLookupSparseOptions"},
    {"PAD", nullptr},
    {"UNIDIRECTIONAL_SEQUENCE_RNN", "SequenceRNNOptions"},
    {"GATHER", "GatherOptions"},
    {"BATCH_TO_SPACE_ND", nullptr},
    {"SPACE_TO_BATCH_ND", nullptr},
    {"TRANSPOSE", nullptr},
    {"MEAN", "ReducerOptions"},
    {"SUB", "SubOptions"},
    {"DIV", "DivOptions"},
    {"SQUEEZE", "SqueezeOptions"},
    {"UNIDIRECTIONAL_SEQUENCE_LSTM", "UnidirectionalSequenceLSTMOptions"},
    {"STRIDED_SLICE", "StridedSliceOptions"},
    {"BIDIRECTIONAL_SEQUENCE_RNN", "BidirectionalSequenceRNNOptions"},
    {"EXP", nullptr},
    {"TOPK_V2", nullptr},
    {"SPLIT", "SplitOptions"},
    {"LOG_SOFTMAX", nullptr},
    {"DELEGATE", nullptr},
    {"BIDIRECTIONAL_SEQUENCE_LSTM", "BidirectionalSequenceLSTMOptions"},
    {"CAST", "CastOptions"},
    {"PRELU", nullptr},
    {"MAXIMUM", nullptr},
    {"ARG_MAX", "ArgMaxOptions"},
    {"MINIMUM", nullptr},
    {"LESS", nullptr},
    {"NEG", nullptr},
    {"PADV2", nullptr},
    {"GREATER", nullptr},
    {"GREATER_EQUAL", nullptr},
    {"LESS_EQUAL", nullptr},
    {"SELECT", nullptr},
    {"SLICE", nullptr},
    {"SIN", nullptr},
    {"TRANSPOSE_CONV", "TransposeConvOptions"},
    {"SPARSE_TO_DENSE", "SparseToDenseOptions"},
    {"TILE", nullptr},
    {"EXPAND_DIMS", nullptr},
    {"EQUAL", nullptr},
    {"NOT_EQUAL", nullptr},
    {"LOG", nullptr},
    {"SUM", "ReducerOptions"},
    {"SQRT", nullptr},
    {"RSQRT", nullptr},
    {"SHAPE", "ShapeOptions"},
    {"POW", nullptr},
    {"ARG_MIN", "ArgMinOptions"},
    {"FAKE_QUANT", "FakeQuantOptions"},
    {"REDUCE_PROD", "ReducerOptions"},
    {"REDUCE_MAX", "ReducerOptions"},
    {"PACK", "PackOptions"},
    {"LOGICAL_OR", nullptr},
    {"ONE_HOT", "OneHotOptions"},
    {"LOGICAL_AND", nullptr},
    {"LOGICAL_NOT", nullptr},
    {"UNPACK", "UnpackOptions"},
    {"REDUCE_MIN", "ReducerOptions"},
    {"FLOOR_DIV", nullptr},
    {"REDUCE_ANY", "ReducerOptions"},
    {"SQUARE", nullptr},
    {"ZEROS_LIKE", nullptr},
    {"FILL", nullptr},
    {"FLOOR_MOD", nullptr},
    {"RANGE", nullptr},
    {"RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions"},
    {"LEAKY_RELU", "LeakyReluOptions"},
    {"SQUARED_DIFFERENCE", nullptr},
    {"MIRROR_PAD", "MirrorPadOptions"},
    {"ABS", nullptr},
    {"SPLIT_V", "SplitVOptions"},
    {"UNIQUE", "UniqueOptions"},
    {"CEIL", nullptr},
    {"REVERSE_V2", nullptr},
    {"ADD_N", nullptr},
    {"GATHER_ND", nullptr},
    {"COS", nullptr},
    {"WHERE", nullptr},
    {"RANK", nullptr},
    {"ELU", nullptr},
    {"REVERSE_SEQUENCE", "ReverseSequenceOptions"},
    {"MATRIX_DIAG", nullptr},
    {"QUANTIZE", nullptr},
    {"MATRIX_SET_DIAG", nullptr},
    {"ROUND", nullptr},
    {"HARD_SWISH", nullptr},
    {"IF", "IfOptions"},
    {"WHILE", "WhileOptions"},
    {"NON_MAX_SUPPRESSION_V4", nullptr},
    {"NON_MAX_SUPPRESSION_V5", nullptr},
    {"SCATTER_ND", nullptr},
    {"SELECT_V2", nullptr},
    {"DENSIFY", nullptr},
    {"SEGMENT_SUM", nullptr},
    {"BATCH_MATMUL", "BatchMatMulOptions"},
    {"PLACEHOLDER_FOR_GREATER_OP_CODES", nullptr},
    {"CUMSUM", "CumsumOptions"},
    {"CALL_ONCE", "CallOnceOptions"},
    {"BROADCAST_TO", nullptr},
    {"RFFT2D", nullptr},
    {"CONV_3D", "Conv3DOptions"},
    {"IMAG", nullptr},
    {"REAL", nullptr},
    {"COMPLEX_ABS", nullptr},
    {"HASHTABLE", "HashtableOptions"},
    {"HASHTABLE_FIND", nullptr},
    {"HASHTABLE_IMPORT", nullptr},
    {"HASHTABLE_SIZE", nullptr},
    {"REDUCE_ALL", "ReducerOptions"},
    {"CONV_3D_TRANSPOSE", "Conv3DOptions"},
    {"VAR_HANDLE", "VarHandleOptions"},
    {"READ_VARIABLE", nullptr},
    {"ASSIGN_VARIABLE", nullptr},
    {"BROADCAST_ARGS", nullptr},
    {"RANDOM_STANDARD_NORMAL", "RandomOptions"},
    {"BUCKETIZE", nullptr},  // its only option is a float list, which Attrs cannot hold
    {"RANDOM_UNIFORM", "RandomOptions"},
    {"MULTINOMIAL", "RandomOptions"},
    {"GELU", "GeluOptions"},
    {"DYNAMIC_UPDATE_SLICE", nullptr},
    {"RELU_0_TO_1", nullptr},
    {"UNSORTED_SEGMENT_PROD", nullptr},
    {"UNSORTED_SEGMENT_MAX", nullptr},
    {"UNSORTED_SEGMENT_SUM", nullptr},
    {"ATAN2", nullptr},
    {"UNSORTED_SEGMENT_MIN", nullptr},
    {"SIGN", nullptr},
    {"BITCAST", nullptr},
    {"BITWISE_XOR", nullptr},
    {"RIGHT_SHIFT", nullptr},
    // The STABLEHLO_ operators keep their options in builtin_options_2, not read here.
    {"STABLEHLO_LOGISTIC", nullptr},
    {"STABLEHLO_ADD", nullptr},
    {"STABLEHLO_DIVIDE", nullptr},
    {"STABLEHLO_MULTIPLY", nullptr},
    {"STABLEHLO_MAXIMUM", nullptr},
    {"STABLEHLO_RESHAPE", nullptr},
    {"STABLEHLO_CLAMP", nullptr},
    {"STABLEHLO_CONCATENATE", nullptr},
    {"STABLEHLO_BROADCAST_IN_DIM", nullptr},
    {"STABLEHLO_CONVOLUTION", nullptr},
    {"STABLEHLO_SLICE", nullptr},
    {"STABLEHLO_CUSTOM_CALL", nullptr},
    {"STABLEHLO_REDUCE", nullptr},
    {"STABLEHLO_ABS", nullptr},
    {"STABLEHLO_AND", nullptr},
    {"STABLEHLO_COSINE", nullptr},
    {"STABLEHLO_EXPONENTIAL", nullptr},
    {"STABLEHLO_FLOOR", nullptr},
    {"STABLEHLO_LOG", nullptr},
    {"STABLEHLO_MINIMUM", nullptr},
    {"STABLEHLO_NEGATE", nullptr},
    {"STABLEHLO_OR", nullptr},
    {"STABLEHLO_POWER", nullptr},
    {"STABLEHLO_REMAINDER", nullptr},
    {"STABLEHLO_RSQRT", nullptr},
    {"STABLEHLO_SELECT", nullptr},
    {"STABLEHLO_SUBTRACT", nullptr},
    {"STABLEHLO_TANH", nullptr},
    {"STABLEHLO_SCATTER", nullptr},
    {"STABLEHLO_COMPARE", nullptr},
    {"STABLEHLO_CONVERT", nullptr},
    {"STABLEHLO_DYNAMIC_SLICE", nullptr},
    {"STABLEHLO_DYNAMIC_UPDATE_SLICE", nullptr},
    {"STABLEHLO_PAD", nullptr},
    {"STABLEHLO_IOTA", nullptr},
    {"STABLEHLO_DOT_GENERAL", nullptr},
    {"STABLEHLO_REDUCE_WINDOW", nullptr},
    {"STABLEHLO_SORT", nullptr},
    {"STABLEHLO_WHILE", nullptr},
    {"STABLEHLO_GATHER", nullptr},
    {"STABLEHLO_TRANSPOSE", nullptr},
    {"DILATE", nullptr},
    {"STABLEHLO_RNG_BIT_GENERATOR", nullptr},
    {"REDUCE_WINDOW", nullptr},
};
inline constexpr size_t kNumBuiltinOps = sizeof(kBuiltinOps) / sizeof(kBuiltinOps[0]);
static_assert(kNumBuiltinOps == 206, "BuiltinOperator runs from ADD = 0 to REDUCE_WINDOW = 205");

// The BuiltinOptions union's members, by type value (0 = NONE).
inline constexpr const char* kBuiltinOptionsNames[] = {
    "NONE", "Conv2DOptions", "DepthwiseConv2DOptions", "ConcatEmbeddingsOptions",
    "LSHProjectionOptions", "Pool2DOptions", "SVDFOptions", "RNNOptions",
    "FullyConnectedOptions", "SoftmaxOptions", "ConcatenationOptions", "AddOptions",
    "L2NormOptions", "LocalResponseNormalizationOptions", "LSTMOptions",
    "ResizeBilinearOptions", "CallOptions", "ReshapeOptions", "SkipGramOptions",
    "SpaceToDepthOptions", "EmbeddingLookupSparseOptions", "MulOptions", "PadOptions",
    "GatherOptions", "BatchToSpaceNDOptions", "SpaceToBatchNDOptions", "TransposeOptions",
    "ReducerOptions", "SubOptions", "DivOptions", "SqueezeOptions", "SequenceRNNOptions",
    "StridedSliceOptions", "ExpOptions", "TopKV2Options", "SplitOptions", "LogSoftmaxOptions",
    "CastOptions", "DequantizeOptions", "MaximumMinimumOptions", "ArgMaxOptions",
    "LessOptions", "NegOptions", "PadV2Options", "GreaterOptions", "GreaterEqualOptions",
    "LessEqualOptions", "SelectOptions", "SliceOptions", "TransposeConvOptions",
    "SparseToDenseOptions", "TileOptions", "ExpandDimsOptions", "EqualOptions",
    "NotEqualOptions", "ShapeOptions", "PowOptions", "ArgMinOptions", "FakeQuantOptions",
    "PackOptions", "LogicalOrOptions", "OneHotOptions", "LogicalAndOptions",
    "LogicalNotOptions", "UnpackOptions", "FloorDivOptions", "SquareOptions",
    "ZerosLikeOptions", "FillOptions", "BidirectionalSequenceLSTMOptions",
    "BidirectionalSequenceRNNOptions", "UnidirectionalSequenceLSTMOptions", "FloorModOptions",
    "RangeOptions", "ResizeNearestNeighborOptions", "LeakyReluOptions",
    "SquaredDifferenceOptions", "MirrorPadOptions", "AbsOptions", "SplitVOptions",
    "UniqueOptions", "ReverseV2Options", "AddNOptions", "GatherNdOptions", "CosOptions",
    "WhereOptions", "RankOptions", "ReverseSequenceOptions", "MatrixDiagOptions",
    "QuantizeOptions", "MatrixSetDiagOptions", "HardSwishOptions", "IfOptions",
    "WhileOptions", "DepthToSpaceOptions", "NonMaxSuppressionV4Options",
    "NonMaxSuppressionV5Options", "ScatterNdOptions", "SelectV2Options", "DensifyOptions",
    "SegmentSumOptions", "BatchMatMulOptions", "CumsumOptions", "CallOnceOptions",
    "BroadcastToOptions", "Rfft2dOptions", "Conv3DOptions", "HashtableOptions",
    "HashtableFindOptions", "HashtableImportOptions", "HashtableSizeOptions",
    "VarHandleOptions", "ReadVariableOptions", "AssignVariableOptions", "RandomOptions",
    "BucketizeOptions", "GeluOptions", "DynamicUpdateSliceOptions",
    "UnsortedSegmentProdOptions", "UnsortedSegmentMaxOptions", "UnsortedSegmentMinOptions",
    "UnsortedSegmentSumOptions", "ATan2Options", "SignOptions", "BitcastOptions",
    "BitwiseXorOptions", "RightShiftOptions"};
inline constexpr size_t kNumBuiltinOptions =
    sizeof(kBuiltinOptionsNames) / sizeof(kBuiltinOptionsNames[0]);
static_assert(kNumBuiltinOptions == 127, "BuiltinOptions: NONE + 126 members");

// How an options field is stored in the file. Enums are byte-sized (kI8) except where noted.
enum class FieldKind : uint8_t { i8, u8, boolean, i32, u32, i64, f32, int_list, string };

struct OptionField {
  int id;
  const char* name;
  FieldKind kind;
  int64_t def;  // the schema default (every float field in these tables defaults to 0)
};

struct OptionsTable {
  const char* name;
  const OptionField* fields;
  size_t count;
};

namespace detail {
using K = FieldKind;
// Recurring fields.
inline constexpr OptionField kActivation0{0, "fused_activation_function", K::i8, 0};

inline constexpr OptionField kConv2D[] = {
    {0, "padding", K::i8, 0}, {1, "stride_w", K::i32, 0}, {2, "stride_h", K::i32, 0},
    {3, "fused_activation_function", K::i8, 0}, {4, "dilation_w_factor", K::i32, 1},
    {5, "dilation_h_factor", K::i32, 1}, {6, "quantized_bias_type", K::i8, 0}};
inline constexpr OptionField kDepthwiseConv2D[] = {
    {0, "padding", K::i8, 0}, {1, "stride_w", K::i32, 0}, {2, "stride_h", K::i32, 0},
    {3, "depth_multiplier", K::i32, 0}, {4, "fused_activation_function", K::i8, 0},
    {5, "dilation_w_factor", K::i32, 1}, {6, "dilation_h_factor", K::i32, 1}};
inline constexpr OptionField kConcatEmbeddings[] = {
    {0, "num_channels", K::i32, 0}, {1, "num_columns_per_channel", K::int_list, 0},
    {2, "embedding_dim_per_channel", K::int_list, 0}};
inline constexpr OptionField kLSHProjection[] = {{0, "type", K::i8, 0}};
inline constexpr OptionField kPool2D[] = {
    {0, "padding", K::i8, 0}, {1, "stride_w", K::i32, 0}, {2, "stride_h", K::i32, 0},
    {3, "filter_width", K::i32, 0}, {4, "filter_height", K::i32, 0},
    {5, "fused_activation_function", K::i8, 0}};
inline constexpr OptionField kSVDF[] = {
    {0, "rank", K::i32, 0}, {1, "fused_activation_function", K::i8, 0},
    {2, "asymmetric_quantize_inputs", K::boolean, 0}};
inline constexpr OptionField kRNN[] = {
    kActivation0, {1, "asymmetric_quantize_inputs", K::boolean, 0}};
inline constexpr OptionField kFullyConnected[] = {
    kActivation0, {1, "weights_format", K::i8, 0}, {2, "keep_num_dims", K::boolean, 0},
    {3, "asymmetric_quantize_inputs", K::boolean, 0}, {4, "quantized_bias_type", K::i8, 0}};
inline constexpr OptionField kSoftmax[] = {{0, "beta", K::f32, 0}};
inline constexpr OptionField kConcatenation[] = {
    {0, "axis", K::i32, 0}, {1, "fused_activation_function", K::i8, 0}};
inline constexpr OptionField kAddSub[] = {kActivation0, {1, "pot_scale_int16", K::boolean, 1}};
inline constexpr OptionField kActivationOnly[] = {kActivation0};
inline constexpr OptionField kLocalResponseNormalization[] = {
    {0, "radius", K::i32, 0}, {1, "bias", K::f32, 0}, {2, "alpha", K::f32, 0},
    {3, "beta", K::f32, 0}};
inline constexpr OptionField kLSTM[] = {
    kActivation0, {1, "cell_clip", K::f32, 0}, {2, "proj_clip", K::f32, 0},
    {3, "kernel_type", K::i8, 0}, {4, "asymmetric_quantize_inputs", K::boolean, 0}};
// Fields 0 and 1 (new_height, new_width) are deprecated.
inline constexpr OptionField kResizeBilinear[] = {
    {2, "align_corners", K::boolean, 0}, {3, "half_pixel_centers", K::boolean, 0}};
inline constexpr OptionField kCall[] = {{0, "subgraph", K::u32, 0}};
inline constexpr OptionField kReshape[] = {{0, "new_shape", K::int_list, 0}};
inline constexpr OptionField kSkipGram[] = {
    {0, "ngram_size", K::i32, 0}, {1, "max_skip_size", K::i32, 0},
    {2, "include_all_ngrams", K::boolean, 0}};
inline constexpr OptionField kBlockSize[] = {{0, "block_size", K::i32, 0}};
inline constexpr OptionField kEmbeddingLookupSparse[] = {{0, "combiner", K::i8, 0}};
inline constexpr OptionField kGather[] = {{0, "axis", K::i32, 0}, {1, "batch_dims", K::i32, 0}};
inline constexpr OptionField kReducer[] = {{0, "keep_dims", K::boolean, 0}};
inline constexpr OptionField kSqueeze[] = {{0, "squeeze_dims", K::int_list, 0}};
inline constexpr OptionField kSequenceRNN[] = {
    {0, "time_major", K::boolean, 0}, {1, "fused_activation_function", K::i8, 0},
    {2, "asymmetric_quantize_inputs", K::boolean, 0}};
inline constexpr OptionField kStridedSlice[] = {
    {0, "begin_mask", K::i32, 0}, {1, "end_mask", K::i32, 0}, {2, "ellipsis_mask", K::i32, 0},
    {3, "new_axis_mask", K::i32, 0}, {4, "shrink_axis_mask", K::i32, 0},
    {5, "offset", K::boolean, 0}};
inline constexpr OptionField kNumSplits[] = {{0, "num_splits", K::i32, 0}};
inline constexpr OptionField kCast[] = {{0, "in_data_type", K::i8, 0}, {1, "out_data_type", K::i8, 0}};
inline constexpr OptionField kArgMinMax[] = {{0, "output_type", K::i8, 0}};
inline constexpr OptionField kTransposeConv[] = {
    {0, "padding", K::i8, 0}, {1, "stride_w", K::i32, 0}, {2, "stride_h", K::i32, 0},
    {3, "fused_activation_function", K::i8, 0}, {4, "quantized_bias_type", K::i8, 0}};
inline constexpr OptionField kSparseToDense[] = {{0, "validate_indices", K::boolean, 0}};
inline constexpr OptionField kShape[] = {{0, "out_type", K::i8, 0}};
inline constexpr OptionField kFakeQuant[] = {
    {0, "min", K::f32, 0}, {1, "max", K::f32, 0}, {2, "num_bits", K::i32, 0},
    {3, "narrow_range", K::boolean, 0}};
inline constexpr OptionField kPack[] = {{0, "values_count", K::i32, 0}, {1, "axis", K::i32, 0}};
inline constexpr OptionField kOneHot[] = {{0, "axis", K::i32, 0}};
inline constexpr OptionField kUnpack[] = {{0, "num", K::i32, 0}, {1, "axis", K::i32, 0}};
inline constexpr OptionField kBidirectionalSequenceLSTM[] = {
    kActivation0, {1, "cell_clip", K::f32, 0}, {2, "proj_clip", K::f32, 0},
    {3, "merge_outputs", K::boolean, 0}, {4, "time_major", K::boolean, 1},
    {5, "asymmetric_quantize_inputs", K::boolean, 0}};
inline constexpr OptionField kBidirectionalSequenceRNN[] = {
    {0, "time_major", K::boolean, 0}, {1, "fused_activation_function", K::i8, 0},
    {2, "merge_outputs", K::boolean, 0}, {3, "asymmetric_quantize_inputs", K::boolean, 0}};
inline constexpr OptionField kUnidirectionalSequenceLSTM[] = {
    kActivation0, {1, "cell_clip", K::f32, 0}, {2, "proj_clip", K::f32, 0},
    {3, "time_major", K::boolean, 0}, {4, "asymmetric_quantize_inputs", K::boolean, 0},
    {5, "diagonal_recurrent_tensors", K::boolean, 0}};
inline constexpr OptionField kResizeNearestNeighbor[] = {
    {0, "align_corners", K::boolean, 0}, {1, "half_pixel_centers", K::boolean, 0}};
inline constexpr OptionField kLeakyRelu[] = {{0, "alpha", K::f32, 0}};
inline constexpr OptionField kMirrorPad[] = {{0, "mode", K::i8, 0}};
inline constexpr OptionField kUnique[] = {{0, "idx_out_type", K::i8, 2}};  // INT32
inline constexpr OptionField kReverseSequence[] = {
    {0, "seq_dim", K::i32, 0}, {1, "batch_dim", K::i32, 0}};
inline constexpr OptionField kIf[] = {
    {0, "then_subgraph_index", K::i32, 0}, {1, "else_subgraph_index", K::i32, 0}};
inline constexpr OptionField kWhile[] = {
    {0, "cond_subgraph_index", K::i32, 0}, {1, "body_subgraph_index", K::i32, 0}};
inline constexpr OptionField kBatchMatMul[] = {
    {0, "adj_x", K::boolean, 0}, {1, "adj_y", K::boolean, 0},
    {2, "asymmetric_quantize_inputs", K::boolean, 0}};
inline constexpr OptionField kCumsum[] = {{0, "exclusive", K::boolean, 0}, {1, "reverse", K::boolean, 0}};
inline constexpr OptionField kCallOnce[] = {{0, "init_subgraph_index", K::i32, 0}};
inline constexpr OptionField kConv3D[] = {
    {0, "padding", K::i8, 0}, {1, "stride_d", K::i32, 0}, {2, "stride_w", K::i32, 0},
    {3, "stride_h", K::i32, 0}, {4, "fused_activation_function", K::i8, 0},
    {5, "dilation_d_factor", K::i32, 1}, {6, "dilation_w_factor", K::i32, 1},
    {7, "dilation_h_factor", K::i32, 1}};
inline constexpr OptionField kHashtable[] = {
    {0, "table_id", K::i32, 0}, {1, "key_dtype", K::i8, 0}, {2, "value_dtype", K::i8, 0}};
inline constexpr OptionField kVarHandle[] = {
    {0, "container", K::string, 0}, {1, "shared_name", K::string, 0}};
inline constexpr OptionField kRandom[] = {{0, "seed", K::i64, 0}, {1, "seed2", K::i64, 0}};
inline constexpr OptionField kGelu[] = {{0, "approximate", K::boolean, 0}};
}  // namespace detail

#define TESSEL_OPTIONS_TABLE(name, fields) \
  OptionsTable { name, fields, sizeof(fields) / sizeof(fields[0]) }
// Every BuiltinOptions member that kBuiltinOps names (the others have no fields).
inline constexpr OptionsTable kOptionsTables[] = {
    TESSEL_OPTIONS_TABLE("Conv2DOptions", detail::kConv2D),
    TESSEL_OPTIONS_TABLE("DepthwiseConv2DOptions", detail::kDepthwiseConv2D),
    TESSEL_OPTIONS_TABLE("ConcatEmbeddingsOptions", detail::kConcatEmbeddings),
    TESSEL_OPTIONS_TABLE("LSHProjectionOptions", detail::kLSHProjection),
    TESSEL_OPTIONS_TABLE("Pool2DOptions", detail::kPool2D),
    TESSEL_OPTIONS_TABLE("SVDFOptions", detail::kSVDF),
    TESSEL_OPTIONS_TABLE("RNNOptions", detail::kRNN),
    TESSEL_OPTIONS_TABLE("FullyConnectedOptions", detail::kFullyConnected),
    TESSEL_OPTIONS_TABLE("SoftmaxOptions", detail::kSoftmax),
    TESSEL_OPTIONS_TABLE("ConcatenationOptions", detail::kConcatenation),
    TESSEL_OPTIONS_TABLE("AddOptions", detail::kAddSub),
    TESSEL_OPTIONS_TABLE("L2NormOptions", detail::kActivationOnly),
    TESSEL_OPTIONS_TABLE("LocalResponseNormalizationOptions", detail::kLocalResponseNormalization),
    TESSEL_OPTIONS_TABLE("LSTMOptions", detail::kLSTM),
    TESSEL_OPTIONS_TABLE("ResizeBilinearOptions", detail::kResizeBilinear),
    TESSEL_OPTIONS_TABLE("CallOptions", detail::kCall),
    TESSEL_OPTIONS_TABLE("ReshapeOptions", detail::kReshape),
    TESSEL_OPTIONS_TABLE("SkipGramOptions", detail::kSkipGram),
    TESSEL_OPTIONS_TABLE("SpaceToDepthOptions", detail::kBlockSize),
    TESSEL_OPTIONS_TABLE("EmbeddingLookupSparseOptions", detail::kEmbeddingLookupSparse),
    TESSEL_OPTIONS_TABLE("MulOptions", detail::kActivationOnly),
    TESSEL_OPTIONS_TABLE("GatherOptions", detail::kGather),
    TESSEL_OPTIONS_TABLE("ReducerOptions", detail::kReducer),
    TESSEL_OPTIONS_TABLE("SubOptions", detail::kAddSub),
    TESSEL_OPTIONS_TABLE("DivOptions", detail::kActivationOnly),
    TESSEL_OPTIONS_TABLE("SqueezeOptions", detail::kSqueeze),
    TESSEL_OPTIONS_TABLE("SequenceRNNOptions", detail::kSequenceRNN),
    TESSEL_OPTIONS_TABLE("StridedSliceOptions", detail::kStridedSlice),
    TESSEL_OPTIONS_TABLE("SplitOptions", detail::kNumSplits),
    TESSEL_OPTIONS_TABLE("CastOptions", detail::kCast),
    TESSEL_OPTIONS_TABLE("ArgMaxOptions", detail::kArgMinMax),
    TESSEL_OPTIONS_TABLE("TransposeConvOptions", detail::kTransposeConv),
    TESSEL_OPTIONS_TABLE("SparseToDenseOptions", detail::kSparseToDense),
    TESSEL_OPTIONS_TABLE("ShapeOptions", detail::kShape),
    TESSEL_OPTIONS_TABLE("ArgMinOptions", detail::kArgMinMax),
    TESSEL_OPTIONS_TABLE("FakeQuantOptions", detail::kFakeQuant),
    TESSEL_OPTIONS_TABLE("PackOptions", detail::kPack),
    TESSEL_OPTIONS_TABLE("OneHotOptions", detail::kOneHot),
    TESSEL_OPTIONS_TABLE("UnpackOptions", detail::kUnpack),
    TESSEL_OPTIONS_TABLE("BidirectionalSequenceLSTMOptions", detail::kBidirectionalSequenceLSTM),
    TESSEL_OPTIONS_TABLE("BidirectionalSequenceRNNOptions", detail::kBidirectionalSequenceRNN),
    TESSEL_OPTIONS_TABLE("UnidirectionalSequenceLSTMOptions", detail::kUnidirectionalSequenceLSTM),
    TESSEL_OPTIONS_TABLE("ResizeNearestNeighborOptions", detail::kResizeNearestNeighbor),
    TESSEL_OPTIONS_TABLE("LeakyReluOptions", detail::kLeakyRelu),
    TESSEL_OPTIONS_TABLE("MirrorPadOptions", detail::kMirrorPad),
    TESSEL_OPTIONS_TABLE("SplitVOptions", detail::kNumSplits),
    TESSEL_OPTIONS_TABLE("UniqueOptions", detail::kUnique),
    TESSEL_OPTIONS_TABLE("ReverseSequenceOptions", detail::kReverseSequence),
    TESSEL_OPTIONS_TABLE("IfOptions", detail::kIf),
    TESSEL_OPTIONS_TABLE("WhileOptions", detail::kWhile),
    TESSEL_OPTIONS_TABLE("DepthToSpaceOptions", detail::kBlockSize),
    TESSEL_OPTIONS_TABLE("BatchMatMulOptions", detail::kBatchMatMul),
    TESSEL_OPTIONS_TABLE("CumsumOptions", detail::kCumsum),
    TESSEL_OPTIONS_TABLE("CallOnceOptions", detail::kCallOnce),
    TESSEL_OPTIONS_TABLE("Conv3DOptions", detail::kConv3D),
    TESSEL_OPTIONS_TABLE("HashtableOptions", detail::kHashtable),
    TESSEL_OPTIONS_TABLE("VarHandleOptions", detail::kVarHandle),
    TESSEL_OPTIONS_TABLE("RandomOptions", detail::kRandom),
    TESSEL_OPTIONS_TABLE("GeluOptions", detail::kGelu),
};
#undef TESSEL_OPTIONS_TABLE

namespace detail {
constexpr bool same_name(const char* a, const char* b) {
  while (*a != 0 && *a == *b) ++a, ++b;
  return *a == *b;
}
// Every options table an operator names is a BuiltinOptions member and is described above.
constexpr bool options_tables_complete() {
  for (const BuiltinOp& op : kBuiltinOps) {
    if (!op.options) continue;
    bool in_union = false, described = false;
    for (const char* name : kBuiltinOptionsNames)
      if (same_name(name, op.options)) in_union = true;
    for (const OptionsTable& t : kOptionsTables)
      if (same_name(t.name, op.options)) described = true;
    if (!in_union || !described) return false;
  }
  return true;
}
}  // namespace detail
static_assert(detail::options_tables_complete(),
              "kBuiltinOps names an options table missing from kBuiltinOptionsNames or kOptionsTables");

}  // namespace tessel::tflite::schema
