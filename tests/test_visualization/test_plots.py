"""The plots written after each experience: titles, colorbars and class names."""
from clbox.visualization import plots


def test_confusion_matrix_has_a_title_a_colorbar_and_class_names(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(plots, '_save', lambda fig, path: saved.append(fig))
    monkeypatch.setattr(plots._pyplot(), 'close', lambda fig: None)
    plots.plot_confusion_matrix([[3, 1, 0], [0, 2, 2], [1, 0, 4]], str(tmp_path / 'c.png'),
                                classes=['cat', 'dog'])
    (fig, ) = saved
    main, bar = fig.axes                       # the matrix and its colorbar
    assert main.get_title() == 'Confusion matrix after the last experience'
    assert [t.get_text() for t in main.get_xticklabels()] == ['cat', 'dog', '2']
    assert bar.get_ylabel() == 'share of the true class'
    row = main.images[0].get_array()
    assert abs(float(row[1].sum()) - 1.0) < 1e-9          # rows are normalised
