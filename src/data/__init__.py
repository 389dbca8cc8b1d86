"""The data: person records (COCO's and PoseTrack's, one type for both), the files they come from (annotations,
detections, PoseTrack's videos), PoseTrack's joints, the heatmap codec, the sample order, skipped images."""
