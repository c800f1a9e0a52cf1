"""The API's pagination, its own module so the REST_FRAMEWORK setting can name it (lbsite.api
imports DRF's viewsets, which read that setting while they load)."""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M`: M up to 200 (larger asks get 200); a page size that is not a whole
    number of at least 1 is a 400 on `page_size`. A page past the end is DRF's 404."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]})
        return min(size, self.max_page_size)
