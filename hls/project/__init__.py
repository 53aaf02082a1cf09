"""Writing an HLS project: conversion, the project writer, the AXI-Stream top, Vivado scripts, boards."""
