package storetest

var partnerTests = []storeTest{}
