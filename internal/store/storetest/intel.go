package storetest

var intelTests = []storeTest{}
