"""scikit-learn's own estimator checks on aelab's estimators (tiny models, two epochs): each check
passes, or is expected to fail for the reason given."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from aelab import PCA, AutoEncoder, Classifier, ConvAutoEncoder

TINY = dict(epochs=2, batch_size=16, random_state=0)
ESTIMATORS = [
    PCA(n_components=1, random_state=0),
    AutoEncoder(n_components=2, hidden_layer_sizes=(8,), **TINY),
    ConvAutoEncoder(channels=(2,), n_components=2, **TINY),
    # enough epochs to separate check_classifiers_train's blobs (accuracy above 0.83)
    Classifier(hidden_layer_sizes=(16,), epochs=30, batch_size=16, learning_rate=1e-2, random_state=0),
]

NEEDS_IMAGES = (
    "ConvAutoEncoder needs images (n, height, width[, channels]) or image_shape; these checks fit it on "
    "plain 2-D feature rows, which it refuses in one line"
)
EXPECTED_FAILURES = {
    "ConvAutoEncoder": dict.fromkeys(
        [
            "check_fit_score_takes_y",
            "check_estimators_overwrite_params",
            "check_dont_overwrite_parameters",
            "check_estimators_fit_returns_self",
            "check_readonly_memmap_input",
            "check_n_features_in_after_fitting",
            "check_positive_only_tag_during_fit",
            "check_estimators_dtypes",
            "check_dtype_object",
            "check_pipeline_consistency",
            "check_estimators_nan_inf",
            "check_estimators_pickle",
            "check_f_contiguous_array_estimator",
            "check_transformer_data_not_an_array",
            "check_transformer_general",
            "check_transformer_preserve_dtypes",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_fit2d_1feature",
            "check_dict_unchanged",
            "check_fit_idempotent",
            "check_fit_check_is_fitted",
            "check_n_features_in",
            "check_fit2d_predict1d",
        ],
        NEEDS_IMAGES,
    ),
}


def expected_failures(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
