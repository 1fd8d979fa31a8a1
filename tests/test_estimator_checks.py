"""scikit-learn's own estimator checks on aelab's estimators (tiny models, two epochs): every check
passes, none is expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from aelab import ITQ, LSA, PCA, AutoEncoder, Classifier, ConvAutoEncoder, DocumentModel

TINY = dict(epochs=2, batch_size=16, random_state=0)
ESTIMATORS = [
    PCA(n_components=1, random_state=0),
    LSA(n_components=1),
    ITQ(n_components=1),
    # texts in, as scikit-learn's own vectorizers: the checks of 2-D arrays do not apply to it
    DocumentModel(n_components=2, hidden_layer_sizes=(8,), **TINY),
    AutoEncoder(n_components=2, hidden_layer_sizes=(8,), **TINY),
    # the checks fit plain rows of features: each row a strip one pixel high
    ConvAutoEncoder(image_shape=(1, -1), channels=(2,), n_components=2, **TINY),
    # enough epochs to separate check_classifiers_train's blobs (accuracy above 0.83)
    Classifier(hidden_layer_sizes=(16,), epochs=30, batch_size=16, learning_rate=1e-2, random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
