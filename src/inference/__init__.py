"""Inference: poses of boxed people with a trained network, single images and evaluation sets."""
