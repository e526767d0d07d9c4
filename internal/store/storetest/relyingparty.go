package storetest

var relyingPartyTests = []storeTest{}
