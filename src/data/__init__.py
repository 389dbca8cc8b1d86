"""The training data: person records from COCO files, the heatmap codec, the sample order, skipped images."""
